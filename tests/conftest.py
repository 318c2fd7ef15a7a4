"""Shared test set-up: the environment every function gets from the template, set before import,
and the local stack for the tests that talk to it over HTTP (``tests/e2e`` and ``tests/infra``).

``local_stack`` is the repository's own template served by ``python -m infra.local``;
``local_stack_factory(template)`` starts one for any template (the stack's own tests use a small
fixture template, ``fixture_stack`` in ``tests/infra/conftest.py``). Every stack started here is
stopped at the end of the session the way a developer stops it, with Ctrl-C (SIGINT to its
process group), and must exit with status 0. The helpers are in ``tests/localstack.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.localstack import REPO_ROOT, LocalStack, StackFactory, start_local_stack

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Portico")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "portico-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="session")
def local_stack_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """``start(template=..., args=(), env=None)``: a running stack, stopped with Ctrl-C at the end."""
    started: list[LocalStack] = []

    def start(
        template: Path | str = REPO_ROOT / "template.yaml",
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> LocalStack:
        log_path = tmp_path_factory.mktemp("local-stack") / "output.log"
        stack = start_local_stack(template, log_path=log_path, args=args, env=env)
        started.append(stack)
        return stack

    yield start
    failures = [
        f"{stack.url} exited with {status}:\n{stack.output()}" for stack in started if (status := stack.stop()) != 0
    ]
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="session")
def local_stack(local_stack_factory: StackFactory) -> LocalStack:
    """The repository's template.yaml, served as ``make run`` serves it."""
    return local_stack_factory()
