"""Fuzzing: schemathesis drives every operation of the served OpenAPI document against the local stack.

A logged-in merchant sends its ``Authorization: Bearer`` token on every request, and a customer of
its account logged in to the portal sends a portal token on the ``/portal/`` routes; path
parameters named like their ids (``account_id``, ``user_id``) are either the real ones or generated
ones, so both the tenant's own resources and other or missing ones are tried. Checks: no 5xx, the
status, content type, headers and body of every answer as the document declares them, and every
error a problem+json document with a string ``code``.

Bounded for ``make test``: six examples per operation with one fixed seed, about 20 s with the
stack's start on a 2-core machine. ``make fuzz`` runs a campaign (``PORTICO_FUZZ_EXAMPLES``,
default 100 there): random seeds, schemathesis' coverage phase (every boundary of every schema) and
stateful workflows along the links it infers.

The fuzzer may log the merchant out, revoke its sessions, enforce 2FA on its account or reset its
2FA: after a change that succeeded, or a 401 or 403, a cheap probe checks that the merchant still
works and a new one is signed up when it does not, so later requests are not all refused.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zlib
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition

from tests.e2e.support import PASSWORD, bearer, log_in, sign_up, unique_email, verify
from tests.localstack import LocalStack

EXAMPLES = int(os.environ.get("PORTICO_FUZZ_EXAMPLES", "0")) or None
CAMPAIGN = EXAMPLES is not None
PROBLEM_JSON = "application/problem+json"
ROUTE_METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]
RESTARTS = 5
REFUSALS = ["400", "401", "403", "404", "409", "413", "415", "422"]


@dataclass
class Merchant:
    email: str
    account_id: str
    user_id: str
    token: str
    portal: str = ""  # a customer of the account, logged in to its portal

    def bearer(self, path: str) -> dict[str, str]:
        return bearer(self.portal if path.startswith("/portal/") else self.token)


class Merchants:
    """The merchant the fuzzer acts as; replaced by a new one when it no longer works."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.replaced = 0
        self.current = self._new()

    def _new(self) -> Merchant:
        email = unique_email("fuzz")
        created = sign_up(self.stack, email)
        verify(self.stack, email)
        merchant = Merchant(email, created["account_id"], created["user_id"], log_in(self.stack, email))
        merchant.portal = self._portal(merchant)
        return merchant

    def _portal(self, merchant: Merchant) -> str:
        """A portal token for a customer of the merchant's account (through the merchant's link)."""
        base = f"/accounts/{merchant.account_id}"
        customer = self.stack.post(
            f"{base}/customers", json={"email": unique_email("fuzzc")}, headers=bearer(merchant.token)
        )
        assert customer.status == 201, customer.text
        link = self.stack.post(
            f"{base}/customers/{customer.json['customer_id']}/portal-session", headers=bearer(merchant.token)
        )
        assert link.status == 201, link.text
        login = self.stack.post(f"/portal/{merchant.account_id}/login/link", json={"token": link.json["token"]})
        assert login.status == 200, login.text
        return str(login.json["token"])

    def works(self) -> bool:
        probe = self.stack.get(f"/accounts/{self.current.account_id}", headers=bearer(self.current.token))
        return probe.status == 200

    def after(self, method: str, status: int, path: str = "") -> None:
        """A change that succeeded, or a refusal that may mean one did, is followed by a probe."""
        changed = method != "GET" and 200 <= status < 300
        if (changed or status in (401, 403)) and not self.works():
            self.current = self._new()
            self.replaced += 1
        elif path.startswith("/portal/") and (changed or status == 401) and not self.portal_works():
            try:
                self.current.portal = self._portal(self.current)
            except AssertionError:  # the portal was turned off or the customer is gone
                self.current = self._new()
                self.replaced += 1

    def portal_works(self) -> bool:
        return self.stack.get("/portal/me", headers=bearer(self.current.portal)).status == 200

    def realistic(self, case) -> None:
        """Make every other case (by its content, so replays agree) reach past the first checks.

        Path parameters name the merchant's own account and user instead of generated ones, and an
        ``email`` in a body is a new well-formed address (the models check addresses with a
        validator the schema cannot express). Assigning, not editing in place, lets schemathesis re-derive
        which parts of a case are invalid.
        """
        ids = {"account_id": self.current.account_id, "user_id": self.current.user_id}
        own = {name: value for name, value in ids.items() if name in (case.path_parameters or {})}
        if own and _coin(case.path_parameters):
            case.path_parameters = {**case.path_parameters, **own}
        body = case.body
        if isinstance(body, dict) and isinstance(body.get("email"), str) and _coin(body):
            case.body = {**body, "email": unique_email("fuzz")}  # a fresh one: a replay invites again


def _coin(value) -> bool:
    return bool(zlib.crc32(repr(value).encode()) % 2)


@pytest.fixture(scope="module")
def merchants(local_stack) -> Merchants:
    return Merchants(local_stack)


@pytest.fixture(scope="module")
def api_schema(local_stack, merchants):
    reply = local_stack.get("/_local/openapi.json")
    assert reply.status == 200, reply.text
    config = schemathesis.Config.from_dict(
        {
            "base-url": local_stack.url,
            "generation": {"max-examples": EXAMPLES or 6, "database": "none"},
            # Every value here is made up for a throwaway local stack: show failures as sent.
            "output": {"sanitization": {"enabled": False}},
            **({} if CAMPAIGN else {"seed": 20261121}),
            "phases": {
                # The coverage phase enumerates every boundary of every schema: a campaign's work. Its
                # undeclared-method probes use the methods an HTTP API route can have (TRACE is not one).
                "coverage": {
                    "enabled": CAMPAIGN,
                    "unexpected-methods": ROUTE_METHODS,
                },
                "stateful": {"enabled": CAMPAIGN},
            },
            "checks": {
                # "Valid input is accepted" cannot hold here: a schema-valid login or token is still
                # refused (401, 404, 409) unless it happens to name a real user.
                "positive_data_acceptance": {"enabled": False},
                # An undeclared method on a declared path is an unknown route: 404 not_found in this
                # API (docs/api.md, "Unknown routes"), as API Gateway routes it, not 405.
                "unsupported_method": {"enabled": False},
                # Invalid input is refused with a 4xx; a body over 64 KiB is refused before parsing.
                "negative_data_rejection": {"expected-statuses": REFUSALS},
            },
        }
    )
    return schemathesis.openapi.from_dict(reply.json, config=config)


def problem_details(ctx, response, case) -> None:
    """Every error is RFC 9457 problem+json with a string ``code``."""
    if response.status_code < 400:
        return
    headers = {name.lower(): values for name, values in response.headers.items()}
    content_type = (headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == PROBLEM_JSON, (
        f"{response.status_code} answered as {content_type!r}, not {PROBLEM_JSON}: {response.text[:200]}"
    )
    document = response.json()
    assert isinstance(document, dict) and isinstance(document.get("code"), str), (
        f"{response.status_code} problem without a string code: {response.text[:200]}"
    )
    assert document.get("status") == response.status_code, response.text[:200]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_its_schema_says(case, merchants):
    merchants.realistic(case)
    status = 0
    try:
        response = case.call_and_validate(
            headers=merchants.current.bearer(case.path), additional_checks=[problem_details], timeout=30
        )
        status = response.status_code
    finally:
        merchants.after(case.method.upper(), status, case.path)


@pytest.mark.skipif(not CAMPAIGN, reason="a campaign's work: make fuzz")
def test_workflows_answer_as_their_schemas_say(api_schema, merchants):
    """Sequences of calls along the links schemathesis infers (an invited user's id from ``POST
    /accounts/{account_id}/users`` into ``GET``, ``PATCH`` and ``DELETE`` of that user, ...), in the
    merchant's own account."""

    class Workflow(api_schema.as_state_machine()):
        def before_call(self, case):
            merchants.realistic(case)
            if "account_id" in (case.path_parameters or {}):
                case.path_parameters = {**case.path_parameters, "account_id": merchants.current.account_id}

        def get_call_kwargs(self, case):
            return {"headers": merchants.current.bearer(case.path), "timeout": 30}

        def after_call(self, response, case):
            super().after_call(response, case)
            merchants.after(case.method.upper(), response.status_code, case.path)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            checks = [problem_details, *(additional_checks or [])]
            super().validate_response(response, case, additional_checks=checks, **kwargs)

    budget = settings(max_examples=EXAMPLES, stateful_step_count=10, deadline=None, database=None)
    for _ in range(RESTARTS):
        try:
            Workflow.run(settings=budget)
            return
        except FlakyStrategyDefinition:
            # A replayed scenario met a server that has moved on (its bundles came out different);
            # schemathesis' own runner restarts the suite then, and so does this test. A check that
            # failed is a FailureGroup (or a FlakyFailure when it did not reproduce), never this.
            continue
    warnings.warn(f"stateful fuzzing restarted {RESTARTS} times on diverging replays", stacklevel=1)


# ----------------------------------------------------------------- hostile JSON shapes

# Characters that end a line or reorder text somewhere: in an email header, a log line, a terminal.
HOSTILE_CHARACTERS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00\x1b\u202e\u2066\ufeff"


def _realistic(name: str, schema: dict) -> object:
    """A value a client would send for a field, so that the hostile part travels past the first
    checks (a valid address, a policy-passing password)."""
    kind = schema.get("type")
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if "email" in name:
        return unique_email("hostile")
    if "password" in name:
        return PASSWORD
    return "Plain Text"


def _body_operations(document: dict) -> list[tuple[str, str, dict]]:
    components = document.get("components", {}).get("schemas", {})
    found = []
    for path, operations in document["paths"].items():
        if path.startswith("/_local"):
            continue
        for method, operation in operations.items():
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema:
                while "$ref" in schema:
                    schema = components[schema["$ref"].rsplit("/", 1)[1]]
                found.append((method.upper(), path, schema.get("properties") or {}))
    return found


def _served(local_stack) -> dict:
    return local_stack.get("/_local/openapi.json").json


@st.composite
def hostile_bodies(draw, properties: dict) -> str:
    """A body as JSON text (Python's encoder cannot write a 6,000-digit integer) with one hostile
    shape: nesting far deeper than any body, an integer of thousands of digits, or characters that
    break lines in every string field."""
    fields = {name: _realistic(name, schema) for name, schema in properties.items()}
    encoded = {name: json.dumps(value) for name, value in fields.items()}
    shape = draw(st.sampled_from(["deep", "digits", "characters"]))
    target = draw(st.sampled_from(sorted(encoded) or ["x"]))
    if shape == "deep":
        depth = draw(st.integers(min_value=33, max_value=20_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = "1" if opener == "{" else ""
        encoded[target] = opener * depth + inner + closer * depth
    elif shape == "digits":
        digits = draw(st.integers(min_value=65, max_value=6_000))
        encoded[target] = draw(st.sampled_from(["", "-"])) + "9" * digits
    else:
        text = st.text(alphabet=HOSTILE_CHARACTERS + "ab ", min_size=1, max_size=12)
        for name, value in fields.items():
            if isinstance(value, str) and "email" not in name and "password" not in name:
                encoded[name] = json.dumps(f"Ada{draw(text)}Lovelace", ensure_ascii=draw(st.booleans()))
        if "email" in fields and draw(st.booleans()):
            local, _, domain = fields["email"].partition("@")
            encoded["email"] = json.dumps(f"{local}{draw(text)}@{domain}")
    return "{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in encoded.items()) + "}"


@pytest.fixture(scope="module")
def body_operations(local_stack) -> list[tuple[str, str, dict]]:
    return _body_operations(_served(local_stack))


def test_hostile_json_shapes_never_reach_a_5xx(local_stack, merchants, body_operations):
    """Every operation that takes a body, sent bodies no client sends: a clear 4xx (or the
    operation's success, the text stored and sent safely), never a 5xx."""
    assert body_operations, "no operation with a JSON body in the served document"
    budget = settings(max_examples=EXAMPLES or 4, deadline=None, database=None, derandomize=not CAMPAIGN)

    def sender(method: str, path: str, properties: dict):
        @budget
        @given(body=hostile_bodies(properties))
        def send(body: str) -> None:
            concrete = path.replace("{account_id}", merchants.current.account_id)
            concrete = concrete.replace("{user_id}", merchants.current.user_id).replace("{token}", "t" * 43)
            concrete = re.sub(r"\{[^}]+\}", "x", concrete)
            headers = {"Content-Type": "application/json", **merchants.current.bearer(concrete)}
            reply = local_stack.request(method, concrete, body=body.encode(), headers=headers)
            merchants.after(method, reply.status, concrete)
            assert reply.status < 500, (method, path, reply.status, reply.text[:300], body[:300])
            if reply.status >= 400:
                assert reply.headers["Content-Type"] == PROBLEM_JSON and isinstance(reply.json.get("code"), str)

        return send

    for method, path, properties in body_operations:
        sender(method, path, properties)()
