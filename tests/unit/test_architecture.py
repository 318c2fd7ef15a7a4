"""The shape of the domain code that import-linter's contracts (``.importlinter``, run by ``make
lint``) do not cover: no Portico module is imported inside a function (the way to dodge a cycle
the layers forbid), and every module says in its docstring what it owns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "portico"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imports_inside_functions(tree: ast.AST) -> list[str]:
    found = []
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portico"):
                    found.append(f"{function.name}: from {node.module}")
                if isinstance(node, ast.Import) and any(a.name.startswith("portico") for a in node.names):
                    found.append(f"{function.name}: import {', '.join(a.name for a in node.names)}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_portico_module_is_imported_inside_a_function(path):
    assert _imports_inside_functions(ast.parse(path.read_text())) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_says_what_it_owns(path):
    tree = ast.parse(path.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring and len(docstring.split()) >= 5, f"{path.name}: a docstring that says what the module owns"


def test_the_probe_finds_a_function_level_import():
    tree = ast.parse("def f():\n    from portico import store\n    return store\n")
    assert _imports_inside_functions(tree) == ["f: from portico"]
