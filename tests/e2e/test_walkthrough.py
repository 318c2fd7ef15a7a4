"""docs/walkthrough.md works as written: its ```bash blocks, in order, in one bash process with
``set -euo pipefail``, against a local stack, end with the subscription paused in the portal.

The blocks are run as they stand, with ``BASE`` pointed at the test's stack (the walkthrough
defaults it to ``http://127.0.0.1:3000``, where ``make run`` serves). They need ``jq`` and
``oathtool`` on the PATH (``make test`` installs its system tools); without them the test is
skipped, saying which is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.e2e.support import bearer
from tests.localstack import REPO_ROOT

WALKTHROUGH = REPO_ROOT / "docs" / "walkthrough.md"
TOOLS = ("bash", "curl", "jq", "oathtool")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]
RESULT = re.compile(r"^walkthrough-result (\S+) (\S+) (\S+)$", re.M)


def bash_blocks() -> list[str]:
    """The ```bash blocks of the walkthrough, in order (```sh blocks are for the reader only)."""
    return re.findall(r"^```bash\n(.*?)^```$", WALKTHROUGH.read_text(encoding="utf-8"), re.S | re.M)


def test_the_walkthrough_starts_from_a_base_url_the_caller_may_override():
    blocks = bash_blocks()
    assert len(blocks) >= 10, "docs/walkthrough.md should hold the steps as ```bash blocks"
    assert 'BASE="${BASE:-http://127.0.0.1:3000}"' in blocks[0]
    assert not [block for block in blocks if "127.0.0.1" in block or "localhost" in block][1:], (
        "only the first block names the stack's address; the others use $BASE"
    )


@pytest.mark.slow
@pytest.mark.skipif(
    bool(MISSING), reason=f"the walkthrough needs {', '.join(MISSING)} on the PATH (make test installs them)"
)
def test_the_walkthrough_runs_as_written(local_stack):
    script = "\n".join(
        [
            "set -euo pipefail",
            *bash_blocks(),
            'printf "walkthrough-result %s %s %s\\n" "$SUBSCRIPTION_ID" "$STATE" "$PORTAL_TOKEN"',
        ]
    )
    run = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "BASE": local_stack.url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    transcript = (
        f"exit {run.returncode}\n--- stdout (end)\n{run.stdout[-4000:]}\n--- stderr (end)\n{run.stderr[-4000:]}"
    )
    assert run.returncode == 0, transcript
    found = RESULT.search(run.stdout)
    assert found, transcript
    subscription_id, state, portal_token = found.groups()
    assert state == "paused", transcript
    # The stack itself, not the script's own reading, says the customer's subscription is paused.
    seen = local_stack.get(f"/portal/subscriptions/{subscription_id}", headers=bearer(portal_token))
    assert seen.status == 200, seen.text
    assert seen.json["state"] == "paused"
