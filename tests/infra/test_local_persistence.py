"""``make run`` keeps its data across restarts (``--state-dir``, ``infra/local/state.py``), and its
console stays readable (``--log``): seen as a developer sees it, over HTTP and on the console.

One flow over the repository's template, because each start costs seconds: the demo account is
made once, a second factor is set up (its secret is sealed with the emulated KMS key, so the
restart must bring back the same key), the clock is moved; after a restart everything is there and
the seed did not run again; ``--reset`` starts clean.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyotp

from tests.localstack import FIXTURES, REPO_ROOT, LocalStack, StackFactory

_PASSWORD = re.compile(r"password (\S+)\s+\(shown once")
_SAVED_PASSWORD = re.compile(r"password (\S+)\s+\(from the saved data")
_ACCOUNT = re.compile(r"Account:\s+(acc_\w+)")
OWNER = "owner@example.com"


def _moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _code(stack: LocalStack, secret: str) -> str:
    """The authenticator's code at the stack's (moved) time."""
    return str(pyotp.TOTP(secret).at(_moment(stack.now())))


def _json_lines(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def test_data_survives_a_restart_and_reset_forgets_it(local_stack_factory: StackFactory, tmp_path: Path):
    state = tmp_path / "state"
    common = ["--state-dir", str(state), "--workers", "2"]

    # ---- first start: fresh, seeded, a second factor set up, the clock moved
    first = local_stack_factory(args=[*common, "--log", "requests"], env={"SEED": "1"})
    output = first.output()
    assert "Local data: fresh" in output
    password = _PASSWORD.search(output).group(1)
    account = _ACCOUNT.search(output).group(1)
    landing = first.get("/").text
    assert password in landing and account in landing
    assert f'href="{first.url}/portal/{account}"' in landing
    assert f"kept in {state}" in landing

    login = first.post("/auth/login", json={"email": OWNER, "password": password})
    assert login.status == 200 and login.json["status"] == "authenticated", login.text
    auth = {"Authorization": f"Bearer {login.json['token']}"}
    setup = first.post("/me/mfa/totp", headers=auth)
    assert setup.status == 200, setup.text
    secret = setup.json["secret"]
    confirmed = first.post("/me/mfa/totp/confirm", json={"code": _code(first, secret)}, headers=auth)
    assert confirmed.status == 200, confirmed.text
    first.advance_clock(3600)
    verification = [m["subject"] for m in first.outbox(OWNER)]
    assert verification

    console = first.output()
    assert not [line for line in _json_lines(console) if "level" in line], "JSON logs stay off the console"
    assert '"_aws"' not in console, "metrics (EMF) never reach the console"
    assert first.stop() == 0
    assert "Traceback" not in first.output()
    logged = (state / "functions.log").read_text()
    assert [line for line in _json_lines(logged) if line.get("message") == "logged in"], logged[-2000:]
    assert '"_aws"' in (state / "metrics.log").read_text()
    assert '"_aws"' not in logged
    assert (state / "state.json").exists()

    # ---- second start: everything is there, nothing is seeded twice
    second = local_stack_factory(args=[*common, "--log", "json"], env={"SEED": "1"})
    output = second.output()
    assert "Local data: loaded (" in output
    assert "Demo data: an account" not in output, "the seed runs on fresh data only"
    assert _SAVED_PASSWORD.search(output).group(1) == password
    assert password in second.get("/").text

    login = second.post("/auth/login", json={"email": OWNER, "password": password})
    assert login.status == 200 and login.json["status"] == "mfa_required", login.text
    answer = {"challenge": login.json["challenge"], "code": _code(second, secret)}
    passed = second.post("/auth/login/mfa", json=answer)
    assert passed.status == 200 and passed.json["status"] == "authenticated", "the KMS key came back: " + passed.text
    auth = {"Authorization": f"Bearer {passed.json['token']}"}
    subscriptions = second.get(f"/accounts/{account}/subscriptions", headers=auth)
    assert subscriptions.status == 200, subscriptions.text
    states = Counter(s["state"] for s in subscriptions.json["items"])
    assert states == {"active": 2, "trialing": 1, "paused": 1, "cancelled": 1}, "not duplicated"
    assert [m["subject"] for m in second.outbox(OWNER)] == verification
    assert 3600 - 5 < _moment(second.now()) - time.time() < 3600 + 60, "the clock's offset is kept"

    deadline = time.monotonic() + 10
    while not [line for line in _json_lines(second.output()) if line.get("message") == "logged in"]:
        assert time.monotonic() < deadline, "LOG=json shows the functions' logs"
        time.sleep(0.1)
    assert '"_aws"' not in second.output(), "metrics (EMF) never reach the console"
    assert second.stop() == 0

    # ---- reset: clean
    third = local_stack_factory(args=[*common, "--reset"], env={"SEED": "0"})
    assert "Local data: fresh" in third.output()
    refused = third.post("/auth/login", json={"email": OWNER, "password": password})
    assert refused.status == 401, refused.text
    assert third.outbox(OWNER) == []
    assert abs(_moment(third.now()) - time.time()) < 5
    assert "No demo data" in third.get("/").text
    assert third.stop() == 0


def test_a_stack_without_a_state_folder_keeps_nothing(local_stack_factory: StackFactory, tmp_path: Path):
    # What the test suite's stacks are: nothing read, nothing written, nothing said about it.
    stack = local_stack_factory(args=["--workers", "1"], env={"SEED": "0"})
    assert "Local data" not in stack.output()
    assert "not kept" in stack.get("/").text
    assert stack.stop() == 0
    assert "saved" not in stack.output()


def test_unreadable_saved_data_is_a_clear_refusal_not_a_silent_reset(local_stack_factory: StackFactory, tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.json").write_text("{not json")
    try:
        local_stack_factory(args=["--state-dir", str(state)], env={"SEED": "0"})
    except AssertionError as error:
        message = str(error)
    else:
        raise AssertionError("the stack started over data it cannot read")
    assert "exited with 1" in message
    assert "cannot read" in message and "RESET=1" in message
    assert "Traceback" not in message
    assert (state / "state.json").read_text() == "{not json", "nothing overwritten"


def _run_second(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m infra.local`` over the fixture template, expected to refuse at once."""
    environment = {
        **os.environ,
        "SEED": "0",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "layers" / "common" / "python"), str(REPO_ROOT)]),
    }
    command = [sys.executable, "-m", "infra.local", "--template", str(FIXTURES / "template.yaml")]
    return subprocess.run(
        [*command, "--state-dir", str(state), *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_stack_never_touches_the_data_of_a_running_one(local_stack_factory: StackFactory, tmp_path: Path):
    state = tmp_path / "state"
    first = local_stack_factory(FIXTURES / "template.yaml", args=["--state-dir", str(state), "--workers", "1"])
    assert first.put("/items/kept", json={"value": "v1"}).status == 201

    taken = _run_second(state, "--port", str(first.port), "--reset")
    assert taken.returncode == 1
    assert f"port {first.port} is in use" in taken.stderr and "Traceback" not in taken.stderr
    busy = _run_second(state, "--port", "0", "--reset")
    assert busy.returncode == 1
    assert busy.stderr.strip() == f"infra.local: another local stack is running on {state}: stop it first"

    assert first.stop() == 0
    again = local_stack_factory(FIXTURES / "template.yaml", args=["--state-dir", str(state), "--workers", "1"])
    assert "Local data: loaded (1 items in fixture-test" in again.output()
    assert again.get("/items/kept").json["value"] == "v1"
    assert again.stop() == 0
