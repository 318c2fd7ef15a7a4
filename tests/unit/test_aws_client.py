"""``portico.aws``: one session for every client, endpoints from ``AWS_ENDPOINT_URL``, and call
bounds that fit inside the functions' timeout with room to answer 503."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.cfn import Template
from portico import aws

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    aws.reset()
    yield monkeypatch
    aws.reset()


def test_one_client_per_service_all_from_one_session(fresh):
    dynamodb = aws.client("dynamodb")
    assert aws.client("dynamodb") is dynamodb
    session = aws._session
    aws.client("kms")
    assert aws._session is session
    aws.reset()
    assert aws.client("dynamodb") is not dynamodb
    assert aws._session is not session


def test_clients_honour_aws_endpoint_url_after_a_reset(fresh):
    fresh.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    aws.reset()
    assert aws.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:4566"
    fresh.delenv("AWS_ENDPOINT_URL")
    aws.reset()
    assert aws.client("dynamodb").meta.endpoint_url == "https://dynamodb.eu-central-1.amazonaws.com"


def test_prewarm_creates_clients_in_lambda_only(fresh):
    aws.prewarm("dynamodb")
    assert aws._clients == {}
    fresh.setenv("AWS_LAMBDA_FUNCTION_NAME", "portico-dev-auth")
    aws.prewarm("dynamodb", "kms")
    assert sorted(aws._clients) == ["dynamodb", "kms"]


def test_timeouts_and_retries_are_set_on_every_client(fresh):
    config = aws.client("ses").meta.config
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_TIMEOUT_S, aws.READ_TIMEOUT_S)
    assert config.retries == {"mode": "standard", "total_max_attempts": aws.TOTAL_MAX_ATTEMPTS}


def _worst_call_seconds() -> float:
    """Every attempt waits out both timeouts; standard mode's backoff before retry n is at most 2**(n-1) s."""
    attempts = aws.TOTAL_MAX_ATTEMPTS
    backoff = sum(min(2 ** (n - 1), 20) for n in range(1, attempts))
    return attempts * (aws.CONNECT_TIMEOUT_S + aws.READ_TIMEOUT_S) + backoff


def test_a_failing_call_ends_inside_every_api_functions_timeout_with_room_for_the_503():
    template = Template.load(ROOT / "template.yaml")
    routed = {route.function_id for route in template.routes()}
    functions = {f.function_id: f for f in template.functions()}
    assert routed
    for function_id in routed:
        timeout = functions[function_id].timeout_s
        assert _worst_call_seconds() + 2 <= timeout, (function_id, timeout, _worst_call_seconds())
    assert _worst_call_seconds() + 2 <= 30  # API Gateway's integration timeout
