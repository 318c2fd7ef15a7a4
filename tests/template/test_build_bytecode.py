"""What ``sam build`` ships: compiled bytecode for the runtime's Python when the build's interpreter
is that Python, sources only (and a plain notice on standard output, which ``sam build`` shows)
when it is not. Runs the Makefiles' recipes directly, as ``sam build`` does, with this test's
interpreter declared as the runtime's (a match) or another version (a mismatch); the layer's pip
step is replaced by a no-op (it needs the network, and is not what is tested here)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER_PYTHON = "3.99"
FUNCTIONS = sorted(path.parent for path in (ROOT / "functions").glob("*/Makefile"))
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(folder: Path, target: str, artifacts: Path, runtime: str) -> str:
    # sam build runs the recipe in a copy of the folder: so does this test (no __pycache__ left behind)
    work = artifacts.parent / f"src-{artifacts.name}"
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("__pycache__"))
    artifacts.mkdir()
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            target,
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
            f"LAMBDA_PYTHON={runtime}",
            "PIP=true",  # the layer's pip install: a no-op here
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _pycs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.pyc"))


def _unchecked_hash(pyc: Path) -> bool:
    """PEP 552: flags 0b01 (hash-based, source not checked)."""
    header = pyc.read_bytes()[:8]
    return header[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(header[4:8], "little") == 0b01


def test_layer_ships_unchecked_bytecode_when_the_build_python_is_the_runtimes(tmp_path):
    artifacts = tmp_path / "layer"
    out = _make(ROOT / "layers/common", "build-CommonLayer", artifacts, HERE_PYTHON)
    sources = sorted((artifacts / "python/portico").rglob("*.py"))
    assert sources
    pycs = _pycs(artifacts / "python/portico")
    assert len(pycs) == len(sources)
    assert all(_unchecked_hash(pyc) for pyc in pycs)
    assert all(sys.implementation.cache_tag in pyc.name for pyc in pycs)
    assert "bytecode for Python" in out


def test_layer_ships_sources_only_and_says_so_when_the_pythons_differ(tmp_path):
    artifacts = tmp_path / "layer"
    out = _make(ROOT / "layers/common", "build-CommonLayer", artifacts, OTHER_PYTHON)
    assert list((artifacts / "python/portico").rglob("*.py"))
    assert _pycs(artifacts) == []
    assert f"build Python {HERE_PYTHON} != runtime {OTHER_PYTHON}: shipping sources only" in out
    assert f"make build PYTHON=python{OTHER_PYTHON}" in out


@pytest.mark.parametrize("folder", FUNCTIONS, ids=lambda folder: folder.name)
def test_functions_ship_bytecode_exactly_when_the_pythons_match(tmp_path, folder):
    matched = _make(folder, "build-SomeFunction", tmp_path / "match", HERE_PYTHON)
    pycs = _pycs(tmp_path / "match")
    assert {pyc.name.split(".")[0] for pyc in pycs} == {py.stem for py in (tmp_path / "match").glob("*.py")}
    assert all(_unchecked_hash(pyc) for pyc in pycs)
    assert "shipping sources only" not in matched

    other = _make(folder, "build-SomeFunction", tmp_path / "other", OTHER_PYTHON)
    assert _pycs(tmp_path / "other") == []
    assert f"SomeFunction: build Python {HERE_PYTHON} != runtime {OTHER_PYTHON}: shipping sources only" in other
