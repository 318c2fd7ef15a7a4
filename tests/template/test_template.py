"""The template is the source of truth: it lints clean, every route it declares is served by the
handler it names (and nothing else is), policies stay least-privilege, and ``sam build`` produces a
layer of Linux wheels for Lambda's Python on this machine."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.cfn import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM = os.environ.get("SAM_CLI") or str(ROOT / ".venv-sam" / "bin" / "sam")


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(TEMPLATE)


def _handler_app(code_uri: str, handler: str):
    module_name, _, _ = handler.rpartition(".")
    path = ROOT / code_uri / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"_template_check_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cfn_lint_is_clean():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_every_template_route_has_its_handler_and_back(template, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "portico-test")
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "portico-test-idempotency")
    monkeypatch.setenv("SENDER_EMAIL", "no-reply@example.com")
    monkeypatch.setenv("PUBLIC_URL", "http://localhost:5173")
    declared: dict[str, set[tuple[str, str]]] = {}
    for route in template.routes():
        if route.path == "$default":  # the catch-all answers not_found through the resolver
            continue
        declared.setdefault(route.function_id, set()).add((route.method.upper(), route.path))
    assert declared, "the template declares no routes"
    functions = {r.function_id: (r.code_uri, r.handler) for r in template.routes() if r.path != "$default"}
    for function_id, (code_uri, handler) in functions.items():
        module = _handler_app(code_uri, handler)
        assert callable(getattr(module, handler.rpartition(".")[2])), f"{function_id}: handler missing"
        schema = module.app.get_openapi_schema()
        served = {
            (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
            for path, operations in schema.paths.items()
            for method in operations.model_dump(exclude_none=True)
            if method in {"get", "post", "put", "patch", "delete"}
        }
        wanted = {(m, re.sub(r"\{[^}]+\}", "{}", p)) for m, p in declared[function_id]}
        assert wanted - served == set(), f"{function_id}: template routes without a handler route"
        assert served - wanted == set(), f"{function_id}: handler routes the template does not declare"


def test_functions_get_only_the_actions_they_need(template):
    raw = template.document
    allowed = {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "ses:SendRawEmail",
        "sns:Publish",
        "kms:Encrypt",
        "kms:Decrypt",
        "sqs:SendMessage",
    }
    for name, resource in raw["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            assert isinstance(policy, dict) and "Statement" in policy, f"{name}: use explicit statements"
            for statement in policy["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert set(actions) <= allowed, f"{name}: {set(actions) - allowed}"
                assert not any(a.endswith("*") for a in actions)
                if any(a.startswith("dynamodb:") for a in actions):
                    assert statement["Resource"] != "*", f"{name}: table access must name the table"


def test_sam_validate_lint_is_clean():
    if not Path(SAM).exists():
        pytest.fail(f"SAM CLI not installed at {SAM}: run through `make test`")
    result = subprocess.run(
        [SAM, "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "eu-central-1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_makes_a_lambda_layer_of_linux_wheels(tmp_path):
    """Without Docker and on Python 3.11, the layer gets aarch64 wheels for Lambda's Python."""
    if not Path(SAM).exists():
        pytest.fail(f"SAM CLI not installed at {SAM}: run through `make test`")
    build_dir = tmp_path / "build"
    result = subprocess.run(
        [SAM, "build", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runtime = re.search(r"Runtime:\s*python(\d+)\.(\d+)", TEMPLATE.read_text())
    tag = f"cpython-{runtime.group(1)}{runtime.group(2)}-aarch64-linux-gnu"
    layer = build_dir / "CommonLayer" / "python"
    assert (layer / "portico" / "http.py").exists()
    assert (layer / "portico" / "notify" / "templates" / "verify_email.de.txt").exists()
    native = [p.name for p in layer.rglob("*.so")]
    assert any(n == f"_pydantic_core.{tag}.so" for n in native), native
    assert any("abi3" in n or tag in n for n in native if "argon2" in n or "_ffi" in n), native
    assert not [n for n in native if "x86_64" in n or "cpython-311" in n], native
    function = build_dir / "AuthFunction"
    assert (function / "app.py").exists() and not (function / "Makefile").exists()
