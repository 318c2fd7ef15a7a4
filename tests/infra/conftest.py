"""The local stack's own tests (``infra/local``): the template loader, API Gateway's rules, the
emulation's DynamoDB transactions, and the stack served over HTTP. ``local_stack_factory`` and
``local_stack`` come from ``tests/conftest.py``."""

from __future__ import annotations

import pytest

from tests.localstack import FIXTURES, LocalStack, StackFactory


@pytest.fixture(scope="session")
def fixture_stack(local_stack_factory: StackFactory) -> LocalStack:
    """The local stack over the small fixture template (``tests/infra/fixtures/template.yaml``)."""
    return local_stack_factory(FIXTURES / "template.yaml")
