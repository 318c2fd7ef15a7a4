"""``portico.boot``, every handler module's first import: the collector is off while the handler
imports, boto3 comes in before anything else, and :func:`portico.boot.ready` freezes the heap,
turns the collector back on and (in Lambda only) creates the handler's AWS clients. Checked in
fresh interpreters: the test process's own collector is left alone."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = sorted((ROOT / "functions").glob("*/app.py"))
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PORTICO_"))},
    "PYTHONPATH": f"{ROOT / 'layers/common/python'}{os.pathsep}{ROOT}",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _run(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env={**ENV, **env}, capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_collector_is_off_while_importing_and_frozen_then_on_after_ready():
    out = _run(
        "import gc, sys\n"
        "from portico import boot\n"
        "print(gc.isenabled(), 'boto3' in sys.modules, 'aws_lambda_powertools' in sys.modules)\n"
        "boot.ready()\n"
        "frozen = gc.get_freeze_count()\n"
        "print(gc.isenabled(), frozen > 10000)\n"
        "boot.ready()\n"
        "print(gc.isenabled(), gc.get_freeze_count() == frozen)\n"
    )
    assert out.splitlines() == ["False True False", "True True", "True True"]


def test_a_collector_turned_off_before_stays_off():
    out = _run("import gc\ngc.disable()\nfrom portico import boot\nboot.ready()\nprint(gc.isenabled())")
    assert out == "False"


def test_ready_creates_the_clients_asked_for_only_in_lambda():
    code = "from portico import aws, boot\nboot.ready('dynamodb')\nprint(sorted(aws._clients))"
    assert _run(code) == "[]"
    assert _run(code, AWS_LAMBDA_FUNCTION_NAME="portico-dev-auth") == "['dynamodb']"


@pytest.mark.parametrize("app", APPS, ids=lambda app: app.parent.name)
def test_every_handler_module_imports_boot_first_and_calls_ready_after_its_imports(app):
    body = ast.parse(app.read_text()).body
    statements = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    imports = [s for s in statements if isinstance(s, ast.Import | ast.ImportFrom)]
    first = next(s for s in imports if not (isinstance(s, ast.ImportFrom) and s.module == "__future__"))
    assert isinstance(first, ast.ImportFrom) and first.module == "portico" and [a.name for a in first.names] == ["boot"]
    readies = [
        s
        for s in statements
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and ast.unparse(s.value.func) == "boot.ready"
    ]
    assert len(readies) == 1, "call boot.ready(...) once, right after the imports"
    assert readies[0].lineno > max(s.lineno for s in imports)
