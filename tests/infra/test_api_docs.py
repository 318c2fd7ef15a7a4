"""The local stack serves the API's OpenAPI document and a Swagger UI page of it, offline."""

from __future__ import annotations

import re

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
