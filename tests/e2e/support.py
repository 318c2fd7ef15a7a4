"""What the end-to-end tests share: a web client's steps (sign up, verify, log in), reading links
and invitations from the stack's outbox, and the stack's emulated DynamoDB table for set-up that
no route does yet.

The table is written with keys from :mod:`portico.keys` and values serialized by boto3
(:func:`serialized`), never with key spellings of its own: a change of key layout reaches these
tests through the same builders the code uses.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer

from tests.localstack import LocalStack

PASSWORD = "Quartz-Lantern-Vivid-42"
NEW = "Harbor-Violet-Spruce-77"

_SERIALIZER = TypeSerializer()


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


def link(message: dict, page: str) -> str:
    """The token of the ``/{page}?token=`` link in an email, present in its text and HTML alike."""
    found = re.search(rf"/{page}\?token=([A-Za-z0-9_\-]+)", message["text"])
    assert found, message["text"]
    assert f"/{page}?token={found.group(1)}" in message["html"]
    return found.group(1)


def invitation_link(stack: LocalStack, email: str) -> str:
    """The token of the newest invitation sent to ``email``."""
    [message] = [m for m in stack.outbox(email) if "/accept-invitation?token=" in m["text"]][:1]
    found = re.search(r"/accept-invitation\?token=([A-Za-z0-9_\-]+)", message["text"])
    assert found and found.group(0) in message["html"]
    return found.group(1)


def sign_up(stack: LocalStack, email: str, **extra: Any) -> dict:
    body = {"email": email, "password": PASSWORD, "name": "Grace Hopper", "company": "Compilers", **extra}
    reply = stack.post("/signup", json=body)
    assert reply.status == 201, reply.text
    return reply.json


def verify(stack: LocalStack, email: str) -> None:
    token = link(stack.outbox(email)[0], "verify-email")
    assert stack.post("/auth/verify-email", json={"token": token}).status == 200


def log_in(stack: LocalStack, email: str, password: str = PASSWORD) -> str:
    reply = stack.post("/auth/login", json={"email": email, "password": password})
    assert reply.status == 200 and reply.json["status"] == "authenticated", reply.text
    return reply.json["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def now(stack: LocalStack) -> float:
    """The stack's clock, in epoch seconds."""
    return datetime.fromisoformat(stack.now().replace("Z", "+00:00")).timestamp()


# ----------------------------------------------------------------- the emulated table


def serialized(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``item`` (a key from :mod:`portico.keys`, a whole item, or expression values) in DynamoDB's
    wire format, as a raw boto3 client takes it."""
    return {name: _SERIALIZER.serialize(value) for name, value in item.items()}


def emulated_table(stack: LocalStack) -> tuple[Any, str]:
    """The stack's embedded DynamoDB (its endpoint is in the Ready line) and the domain table's
    name: for set-up that no route does yet (a verified phone, a login in hundreds of accounts)."""
    endpoint = re.search(r"moto on (http://[\d.]+:\d+)", stack.output()).group(1)
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="eu-central-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    [name] = [t for t in client.list_tables()["TableNames"] if t.startswith("portico-") and "dempotency" not in t]
    return client, name
