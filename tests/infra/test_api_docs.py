"""The local stack serves the API's OpenAPI document and a Swagger UI page of it, offline."""

from __future__ import annotations

import re

import pytest

from infra import openapi
from infra.local.cfn import Template
from tests.localstack import REPO_ROOT


def test_the_stack_serves_the_spec_of_its_template(local_stack):
    reply = local_stack.get("/_local/openapi.json")
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    served = reply.json
    assert served["servers"] == [{"url": local_stack.url}]  # "Try it out" reaches this stack
    assert {key: value for key, value in served.items() if key != "servers"} == {
        key: value for key, value in openapi.build().items() if key != "servers"
    }
    assert not [path for path in served["paths"] if path.startswith("/_local")]
    routes = Template.load(REPO_ROOT / "template.yaml").routes()
    assert not [route for route in routes if route.path.startswith("/_local")], "local routes belong to the stack"


def test_the_stack_serves_swagger_ui_with_its_own_assets(local_stack):
    page = local_stack.get("/_local/docs")
    assert page.status == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    assert '"title": "Portico"' in page.text  # the document is embedded in the page
    assets = re.findall(r"(?:src|href)='(/_local/docs/[^']+)'", page.text)
    assert sorted(assets) == ["/_local/docs/swagger-ui-bundle.min.js", "/_local/docs/swagger-ui.min.css"]
    for asset in assets:  # no CDN: the page works without a network
        reply = local_stack.get(asset)
        assert reply.status == 200 and len(reply.body) > 10_000, asset
    assert "SwaggerUIBundle" in local_stack.get("/_local/docs/swagger-ui-bundle.min.js").text
    assert local_stack.get("/_local/docs?format=json").json == local_stack.get("/_local/openapi.json").json
    assert local_stack.get("/_local/docs/../openapi.json").status == 404


# ----------------------------------------------------------------- the API reference (docs/api.md)

DOCS = REPO_ROOT / "docs"
REFERENCE = [DOCS / "api.md", *sorted((DOCS / "api").glob("*.md"))]
ROUTE_HEADING = re.compile(r"^#{2,4} (GET|PUT|POST|PATCH|DELETE) (/\S*)[ \t]*$", re.M)
ERROR_ROW = re.compile(r"^\| (\d{3}) \| `([a-z_]+)` \|", re.M)
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def spec() -> dict:
    return openapi.build()


def operations(spec: dict) -> dict[str, dict]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def documented() -> list[tuple[str, str]]:
    """Every ``### METHOD /path`` section of the reference, with the file it is in."""
    return [
        (f"{method} {path}", str(page.relative_to(REPO_ROOT)))
        for page in REFERENCE
        for method, path in ROUTE_HEADING.findall(page.read_text(encoding="utf-8"))
    ]


def test_every_operation_of_the_api_is_in_the_reference(spec):
    sections = {route for route, _ in documented()}
    missing = sorted(set(operations(spec)) - sections)
    assert not missing, (
        "routes missing from the API reference: add a `### METHOD /path` section (who may call it, body, "
        "success, errors) to docs/api/<area>.md, and any new error code to the table in docs/api.md:\n  "
        + "\n  ".join(missing)
    )


def test_every_route_in_the_reference_exists(spec):
    served = set(operations(spec))
    unknown = sorted(f"{route} ({page})" for route, page in documented() if route not in served)
    assert not unknown, "the API reference documents routes openapi.json does not have:\n  " + "\n  ".join(unknown)
    routes = [route for route, _ in documented()]
    assert not sorted({route for route in routes if routes.count(route) > 1}), "documented twice"


def test_every_operation_has_a_summary_a_description_and_its_errors(spec):
    """Each route function's docstring gives the summary (its first line), the description and the
    route's own error codes (an ``Errors:`` block); see infra/openapi.py."""
    problems = []
    for route, operation in operations(spec).items():
        summary = operation.get("summary", "")
        if not summary or summary == route or summary == route.split(" ", 1)[1]:
            problems.append(
                f"{route}: no summary; give its function in functions/{operation['tags'][0]}/app.py a docstring"
            )
        if not operation.get("description", "").strip():
            problems.append(f"{route}: no description")
        if not [status for status in operation["responses"] if status.startswith("4")]:
            problems.append(f"{route}: no 4xx response")
    assert not problems, "\n".join(problems)


def _codes_in(spec: dict) -> set[tuple[int, str]]:
    """Every (status, code) an operation of ``spec`` declares: its responses' codes and the errors
    its description lists."""
    found: set[tuple[int, str]] = set()
    responses = spec["components"]["responses"]
    for operation in operations(spec).values():
        for status, reference in operation["responses"].items():
            if not status.isdigit() or "$ref" not in reference:
                continue
            schema = responses[reference["$ref"].rsplit("/", 1)[1]]["content"]["application/problem+json"]["schema"]
            for code in schema.get("properties", {}).get("code", {}).get("enum", []):
                found.add((int(status), code))
        for status, code in re.findall(r"`(\d{3}) ([a-z_]+)`", operation.get("description", "")):
            found.add((int(status), code))
    return found


def test_the_error_table_lists_every_error_code_of_the_api(spec):
    table = {(int(status), code) for status, code in ERROR_ROW.findall((DOCS / "api.md").read_text(encoding="utf-8"))}
    missing = sorted(_codes_in(spec) - table)
    assert not missing, "error codes missing from the table in docs/api.md (## Errors):\n  " + "\n  ".join(
        f"{status} {code}" for status, code in missing
    )
    with openapi._import_environment():
        catalog = openapi.error_catalog()
    unknown = sorted((status, code) for status, code in table if status not in catalog.get(code, {}))
    assert not unknown, f"docs/api.md lists error codes the layer does not define: {unknown}"


def test_every_body_example_fits_its_schema(spec):
    from jsonschema import Draft202012Validator, FormatChecker

    checked, wrong = 0, []
    for route, operation in operations(spec).items():
        bodies = [("request", operation.get("requestBody", {}))] + [
            (status, response) for status, response in operation["responses"].items() if status.startswith("2")
        ]
        for where, body in bodies:
            media = body.get("content", {}).get("application/json", {})
            if "example" not in media:
                continue
            root = {"components": spec["components"], **media["schema"]}
            errors = list(Draft202012Validator(root, format_checker=FormatChecker()).iter_errors(media["example"]))
            checked += 1
            if errors:
                wrong.append(f"{route} {where}: {errors[0].message}")
    assert not wrong, "\n".join(wrong)
    with_bodies = [
        route
        for route, operation in operations(spec).items()
        if "requestBody" in operation
        and "example" not in operation["requestBody"]["content"]["application/json"]
        and openapi._example_of(operation["requestBody"]["content"]["application/json"]["schema"], spec)
        not in ({}, None)
    ]
    assert not with_bodies, f"request bodies without an example: {with_bodies}"
    assert checked > 100


def test_the_docs_stand_alone():
    """The reference and the walkthrough link only to files of this repository that exist."""
    pages = [*REFERENCE, DOCS / "walkthrough.md"]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path = target.split("#", 1)[0]
            if re.match(r"^[a-z]+:", target):
                broken.append(f"{page.name}: links outside the repository: {target}")
            elif path and not (page.parent / path).resolve().exists():
                broken.append(f"{page.name}: no such file: {target}")
        for phrase in ("contract", "the guide", "../shared"):
            if phrase in text.lower():
                broken.append(f"{page.name}: refers to {phrase!r}, which is not part of this repository")
    assert not broken, "\n".join(broken)
