"""Bad input on every route of the template: a clear 4xx in the API's error shape, never a 5xx,
no echo of what was sent, and nothing written.

The cases are generated from the template's route list and from each handler's own OpenAPI schema
(request body fields, path and query parameters), so a route added to ``template.yaml`` is covered
without touching this file. Each case is called by someone who passes the route's access check
(anonymous on public routes, a logged-in user on user routes, the account's owner on
``/accounts/{account_id}`` routes), so what answers is the input handling, not the access check.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.local.cfn import Template
from portico import access, aws, config
from portico.http import MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"
UNDER_LIMIT = 60_000  # one string of this length keeps the body under the 64 KiB limit...
OVER_LIMIT = 100_000  # ...and this one takes it over
assert UNDER_LIMIT < MAX_BODY_BYTES - 4096 and OVER_LIMIT > MAX_BODY_BYTES
HUGE_NUMBERS = {"1e400": "1e400", "10**30": str(10**30)}  # JSON text: 1e400 overflows a float
WEIRD_PATH_VALUES = {
    "slash": "a/b",
    "dot-dot": "..",
    "nul": "%00",
    "encoded-slash": "a%2Fb",
    "1000 chars": "p" * 1000,
    "4000 chars": "p" * 4000,  # beyond DynamoDB's key size limits (2048/1024 bytes)
}
MALFORMED_JSON = {
    "truncated": '{"a": ',
    "not JSON": "hello",
    "single quotes": "{'a': 1}",
    "trailing comma": '{"a": 1,}',
}
NOT_AN_OBJECT = {"array": "[]", "array of object": "[{}]", "string": '"text"', "number": "42", "null": "null"}


# ------------------------------------------------------------------------------- the routes


def _load_handler(code_uri: Path, handler: str):
    module_name = handler.rpartition(".")[0]
    path = ROOT / code_uri / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"_bad_input_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class RouteInput:
    """What one route takes, read from its handler's OpenAPI schema."""

    method: str
    path: str  # as in the template: /accounts/{account_id}
    kind: str  # the access requirement: public, user, member, customer
    body: dict[str, Any] | None  # the request body's JSON schema, $refs resolved
    body_required: bool  # False: no body at all is the request with its defaults
    path_params: list[str]
    query: dict[str, dict[str, Any]]  # name -> schema

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _resolve(schema: Any, components: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolve(components[schema["$ref"].rsplit("/", 1)[1]], components)
        return {k: _resolve(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolve(v, components) for v in schema]
    return schema


def _route_inputs() -> list[RouteInput]:
    template = Template.load(ROOT / "template.yaml")
    routes = [r for r in template.routes() if r.path != "$default"]
    found = []
    modules: dict[str, Any] = {}
    for route in routes:
        if route.function_id not in modules:
            modules[route.function_id] = _load_handler(route.code_uri, route.handler)
        app = modules[route.function_id].app
        document = json.loads(app.get_openapi_schema().model_dump_json(by_alias=True, exclude_none=True))
        components = document.get("components", {}).get("schemas", {})
        operation = document["paths"][route.path][route.method.lower()]
        served = next(
            r
            for r in app._static_routes + app._dynamic_routes
            if r.method == route.method and r.openapi_path == route.path
        )
        requirement = access.requirement_of(served.func)
        request_body = operation.get("requestBody") or {}
        body = request_body.get("content", {}).get("application/json", {}).get("schema")
        parameters = operation.get("parameters") or []
        found.append(
            RouteInput(
                method=route.method,
                path=route.path,
                kind=requirement.kind if requirement else "undeclared",
                body=_resolve(body, components) if body else None,
                body_required=bool(request_body.get("required")),
                path_params=[p["name"] for p in parameters if p["in"] == "path"],
                query={p["name"]: _resolve(p["schema"], components) for p in parameters if p["in"] == "query"},
            )
        )
    return found


# ------------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    route: RouteInput
    name: str
    body: str | bytes | None = None
    path_values: dict[str, str] = field(default_factory=dict)  # weird values for path parameters
    query: str = ""
    content_type: str = "application/json"
    expect: tuple[tuple[int, str], ...] = ((422, "validation_error"),)
    loc: tuple[str, ...] | None = None  # a validation error must name this location
    sent: tuple[str, ...] = ()  # strings sent that must not come back

    @property
    def id(self) -> str:
        return f"{self.route.name} :: {self.name}"


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return schema.get("anyOf") or schema.get("oneOf") or [schema]


def _nullable(schema: dict[str, Any]) -> bool:
    return any(b.get("type") == "null" for b in _branches(schema))


def _main(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its ``null`` alternative."""
    return next((b for b in _branches(schema) if b.get("type") != "null"), schema)


def _example(schema: dict[str, Any], name: str) -> Any:
    """A value the schema accepts, as far as the schema tells (the cases change one thing each): the
    default where there is one, so that a bad value accepted by mistake changes as little as possible."""
    if schema.get("default") is not None:
        return schema["default"]
    schema = _main(schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {key: _example(sub, key) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_example(schema.get("items") or {}, name)]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return int(schema.get("minimum", 1))
    if "email" in name:
        return "bad.input@example.com"
    text = f"Zq7-{name}-Vx93"  # distinctive, so an echo of it is found
    low, high = schema.get("minLength", 1), schema.get("maxLength", len(text))
    text = (text * (low // len(text) + 1))[: max(low, min(high, len(text)))]
    pattern = schema.get("pattern")
    if pattern is None or re.search(pattern, text):
        return text
    assert pattern in PATTERN_EXAMPLES, f"{name}: teach PATTERN_EXAMPLES a value matching {pattern!r}"
    return PATTERN_EXAMPLES[pattern]


PATTERN_EXAMPLES = {
    r"^[A-Z]{2}$": "DE",
    r"^[A-Z]{3}$": "EUR",
    r"^\+[1-9]\d{6,14}$": "+4915112345678",
    r"^\d{4}$": "4242",
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$": "2030-01-01T00:00:00Z",
    r"^[a-z0-9_]+$": "zq7_vx93",
    r"^[a-z]+_[a-z0-9]+$": "zq_zq7vx93",
}
"""Values for string patterns the distinctive default text does not match."""


def _given(schema: Any) -> Iterator[str]:
    """Strings the schema itself holds (defaults, constants, allowed values): an error message may
    name them without echoing anything of the caller's."""
    if isinstance(schema, dict):
        for key in ("default", "const"):
            if isinstance(schema.get(key), str):
                yield schema[key]
        for value in schema.get("enum") or ():
            if isinstance(value, str):
                yield value
        for value in schema.values():
            yield from _given(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _given(value)


def _wrong_type(schema: dict[str, Any]) -> Any:
    kind = _main(schema).get("type", "string")
    return {"string": 12345, "integer": "7", "number": "7", "boolean": "true", "object": [], "array": {"a": 1}}.get(
        kind, 12345
    )


def _fields(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict, bool]]:
    """(path, schema, required) for every property, nested objects included."""
    schema = _main(schema)
    required = set(schema.get("required") or ())
    for key, sub in (schema.get("properties") or {}).items():
        yield (*prefix, key), sub, key in required
        if _main(sub).get("type") == "object":
            yield from _fields(sub, (*prefix, key))


def _objects(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every object that forbids unknown fields."""
    schema = _main(schema)
    if schema.get("additionalProperties") is False:
        yield prefix
    for key, sub in (schema.get("properties") or {}).items():
        if _main(sub).get("type") == "object":
            yield from _objects(sub, (*prefix, key))


def _with(body: dict[str, Any], path: tuple[str, ...], value: Any = ..., raw: str | None = None) -> dict:
    """A deep copy of ``body`` with ``path`` set to ``value`` (``...``: removed). ``raw`` puts a JSON
    text at that place instead (for 1e400, which no Python value serializes to)."""
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target.setdefault(key, {})
    if raw is not None:
        target[path[-1]] = RawJson(raw)
    elif value is ...:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return copy


class RawJson(str):
    """A JSON text to splice in as is."""


def _dumps(body: Any) -> str:
    raws: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, RawJson):
            marker = f"@@raw{len(raws)}@@"
            raws[f'"{marker}"'] = str(value)
            return marker
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    text = json.dumps(walk(body))
    for marker, raw in raws.items():
        text = text.replace(marker, raw)
    return text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _body_cases(route: RouteInput) -> Iterator[Case]:
    schema = route.body
    base = _example(schema, "body")
    given = set(_given(schema))
    secrets = tuple(s for s in _strings(base) if len(s) >= 8 and s not in given)
    malformed = ((400, "malformed_json"),)
    for name, text in MALFORMED_JSON.items():
        yield Case(route, f"malformed JSON ({name})", body=text, expect=malformed)
    if route.body_required:
        yield Case(route, "empty body", body="", loc=("body",))
    # Python's json module takes NaN; the "not JSON" check (400 malformed_json) or the schema must refuse it.
    first = next(iter(_main(schema).get("properties") or {"a": None}))
    yield Case(route, "NaN literal", body=f'{{"{first}": NaN}}', expect=((422, "validation_error"), *malformed))
    for name, text in NOT_AN_OBJECT.items():
        yield Case(route, f"JSON {name} instead of an object", body=text, loc=("body",))
    if _main(schema).get("required"):
        yield Case(route, "empty object", body="{}", loc=("body",))
    for path in _objects(schema):
        body = _with(base, (*path, "unexpected_field"), "x")
        yield Case(route, f"unknown field {'.'.join((*path, 'unexpected_field'))}", body=_dumps(body), sent=secrets)
    padded = _dumps(base) + " " * (MAX_BODY_BYTES + 1)
    yield Case(route, "body over 64 KiB", body=padded, expect=((413, "payload_too_large"),), sent=secrets)
    yield Case(route, "invalid UTF-8", body=b'{"' + first.encode() + b'": "\xff\xfe\xfd"}', expect=malformed)
    yield Case(route, "UTF-8 encoded surrogate", body=b'{"' + first.encode() + b'": "\xed\xa0\x80"}', expect=malformed)
    yield Case(
        route,
        "text/plain content type",
        body=_dumps(base),
        content_type="text/plain",
        expect=((415, "unsupported_media_type"),),
        sent=secrets,
    )
    for path, sub, required in _fields(schema):
        label = ".".join(path)
        loc = ("body", *path)

        def case(what: str, body: dict, expect=((422, "validation_error"),)) -> Case:
            return Case(
                route,
                f"{label}: {what}",
                body=_dumps(body),
                expect=expect,
                loc=loc,
                sent=(*secrets, *(s for s in _strings(body) if len(s) >= 8)),
            )

        yield case("wrong type", _with(base, path, _wrong_type(sub)))
        if not _nullable(sub):
            yield case("null", _with(base, path, None))
        if required:
            yield case("missing", _with(base, path))
        if _main(sub).get("type") in ("integer", "number") or path == (first,):
            for name, raw in HUGE_NUMBERS.items():
                yield case(f"number {name}", _with(base, path, raw=raw))
        if _main(sub).get("type") == "string":
            yield case(f"{UNDER_LIMIT:,} chars (body under 64 KiB)", _with(base, path, "s" * UNDER_LIMIT))
            yield case(
                f"{OVER_LIMIT:,} chars (body over 64 KiB)",
                _with(base, path, "s" * OVER_LIMIT),
                expect=((413, "payload_too_large"),),
            )
            # Valid JSON and valid UTF-8, but no Unicode string: nothing could store or hash it.
            yield case(
                "escaped lone surrogate",
                _with(base, path, raw='"Zq7\\ud800Vx93"'),
                expect=((422, "validation_error"), (400, "malformed_json")),
            )


def _query_cases(route: RouteInput, body: str | None) -> Iterator[Case]:
    for name, schema in route.query.items():
        main = _main(schema)
        kind = main.get("type")
        bad: dict[str, str] = {}
        if "enum" in main:
            bad["not one of the values"] = "not-a-value"
        if kind == "boolean":
            bad["not a boolean"] = "maybe"
        if kind in ("integer", "number"):
            bad["not a number"] = "abc"
            bad["number 1e400"] = "1e400"
            bad["number 10**30"] = str(10**30)
            bad["fraction"] = "1.5"
            if "minimum" in main:
                bad["below minimum"] = str(int(main["minimum"]) - 1)
            if "maximum" in main:
                bad["above maximum"] = str(int(main["maximum"]) + 1)
        if kind == "string" and "maxLength" in main:
            bad["too long"] = "q" * (int(main["maxLength"]) + 1)
        for what, value in bad.items():
            yield Case(route, f"query {name}: {what}", body=body, query=f"{name}={value}", loc=("query", name))
        if kind in ("integer", "number", "boolean"):
            example = str(_example(schema, name)).lower()
            yield Case(route, f"query {name}: repeated", body=body, query=f"{name}={example}&{name}={example}")


def _path_cases(route: RouteInput, body: str | None) -> Iterator[Case]:
    for param in route.path_params:
        for what, value in WEIRD_PATH_VALUES.items():
            yield Case(
                route,
                f"path {param}: {what}",
                body=body,
                path_values={param: value},
                expect=((404, "not_found"), (422, "validation_error")),
                loc=("path", param),
                sent=(value,) if len(value) >= 8 else (),
            )


def _cases(routes: list[RouteInput]) -> list[Case]:
    cases: list[Case] = []
    for route in routes:
        body = _dumps(_example(route.body, "body")) if route.body else None
        if route.body:
            cases.extend(_body_cases(route))
        cases.extend(_query_cases(route, body))
        cases.extend(_path_cases(route, body))
    return cases


ROUTES = _route_inputs()
CASES = _cases(ROUTES)


# ------------------------------------------------------------------------------- the test


@pytest.fixture(scope="module")
def template_env(module_template_env):
    """These requests are all refused and change nothing, so the module shares one stack and one login."""
    return module_template_env


@pytest.fixture(scope="module")
def _signed_in() -> dict[str, Any]:
    return {}


@pytest.fixture
def callers(_signed_in, person, login, api) -> dict[str, Any]:
    """The owner of an account and a session of theirs, and a customer of the account logged in to
    its portal, made once for the module."""
    if not _signed_in:
        owner = person("bad.input.owner@example.com", name="Owen Owner", company="Input Works")
        token = login(owner)
        made = api.post(f"/accounts/{owner.account_id}/customers", {"email": "c@example.com"}, token=token)
        assert made.status == 201, made.body
        link = api.post(
            f"/accounts/{owner.account_id}/customers/{made.body['customer_id']}/portal-session", token=token
        )
        assert link.status == 201, link.body
        portal = api.post(f"/portal/{owner.account_id}/login/link", {"token": link.body["token"]})
        assert portal.status == 200, portal.body
        _signed_in.update(owner=owner, token=token, portal=portal.body["token"])
    return _signed_in


@pytest.fixture(scope="module")
def _last_state() -> dict[str, tuple]:
    return {}


@pytest.fixture
def state(table_items, outbox, _last_state):
    """Everything a request could have written: the domain table, the idempotency records, the outbox.

    ``state.before()`` is what the previous case left (nothing else writes between two cases; this
    halves the scans of the emulated table), ``state.after()`` reads it again."""

    class State:
        @staticmethod
        def after() -> tuple:
            idempotency = aws.client("dynamodb").scan(TableName=config.settings().idempotency_table_name)["Items"]
            items = sorted(table_items(), key=lambda i: (str(i["pk"]), str(i["sk"])))
            _last_state["after"] = (items, sorted(map(str, idempotency)), [m["message_id"] for m in outbox()])
            return _last_state["after"]

        @staticmethod
        def before() -> tuple:
            return _last_state.get("after") or State.after()

    return State


def _target(case: Case, callers: dict[str, Any]) -> str:
    owner = callers["owner"]
    known = {"account_id": owner.account_id, "user_id": owner.user_id}
    values = {p: case.path_values.get(p, known.get(p, "placeholder")) for p in case.route.path_params}
    path = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], case.route.path)
    return f"{path}?{case.query}" if case.query else path


def _token(case: Case, callers: dict[str, Any]) -> str | None:
    kind = case.route.kind
    if kind == "public":
        return None
    if kind in ("user", "member"):
        return callers["token"]
    if kind == "customer":
        return callers["portal"]
    pytest.fail(f"{case.route.name}: no caller for access kind {kind!r}; teach this test to log one in")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(api, callers, state, case):
    before = state.before()
    answer = api.call(
        case.route.method,
        _target(case, callers),
        case.body,
        headers={"content-type": case.content_type},
        token=_token(case, callers),
    )
    text = json.dumps(answer.body)
    assert (answer.status, (answer.body or {}).get("code")) in case.expect, text[:2000]
    assert answer.headers.get("Content-Type") == PROBLEM_JSON
    assert answer.headers.get("Cache-Control") == "no-store"
    assert answer.body["status"] == answer.status and answer.body["title"]
    if answer.status == 422 and answer.body["code"] == "validation_error":
        errors = answer.body["errors"]
        assert errors and all(e["loc"] and e["msg"] for e in errors), errors
        if case.loc:  # the error names what was wrong
            assert any(tuple(e["loc"][: len(case.loc)]) == case.loc for e in errors), errors
    for sent in case.sent:
        assert sent not in text, f"the answer echoes {sent[:40]!r}"
    assert state.after() == before, "a refused request wrote something"


def test_every_route_that_takes_input_has_cases():
    """The generator found something to send to every route with a body, a path or a query."""
    covered = {c.route.name for c in CASES}
    assert ROUTES, "the template declares no routes"
    for route in ROUTES:
        assert route.kind != "undeclared", f"{route.name} declares no access requirement"
        if route.body or route.path_params or route.query:
            assert route.name in covered, route.name
