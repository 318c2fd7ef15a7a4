"""``SECURITY.md`` stays true to the suite: every test it cites exists, every requirement id it maps
is an OWASP ASVS 5.0 id, every requirement of the chapters it covers is listed, and each of V6, V7,
V8 and V11 maps at least one control to a test.

Tests are collected with ``ast`` (no import, no pytest run): module-level ``test_*`` functions and
the ``test_*`` methods of ``Test*`` classes. A parametrized test is cited by its base name; an id in
brackets after it (``::test_route[...]``) is allowed and ignored.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "SECURITY.md"

REFERENCE = re.compile(r"(tests/[\w/]+\.py)((?:::\w+)+)(?:\[[^\]\s]*\])?")
ROW = re.compile(r"^\|\s*V(\d+)\.(\d+)\.(\d+) \(L[123]\)\s*\|.*$", re.MULTILINE)

# ASVS 5.0.0: the number of requirements in each section of the chapters the document uses.
SECTIONS: dict[int, dict[int, int]] = {
    2: {1: 3, 2: 3, 3: 5, 4: 2},
    6: {1: 3, 2: 12, 3: 8, 4: 6, 5: 8, 6: 4, 7: 2, 8: 4},
    7: {1: 3, 2: 4, 3: 2, 4: 5, 5: 3, 6: 2},
    8: {1: 4, 2: 4, 3: 3, 4: 2},
    11: {1: 4, 2: 5, 3: 5, 4: 4, 5: 2, 6: 2, 7: 2},
    14: {1: 2, 2: 8, 3: 3},
    16: {1: 1, 2: 5, 3: 4, 4: 3, 5: 4},
}
COVERED_IN_FULL = (6, 7, 8, 11)


def document() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


@cache
def defined_tests(path: str, root: Path = ROOT) -> frozenset[str]:
    """The test names a module defines: ``test_x`` and ``TestY::test_z``."""
    tree = ast.parse((root / path).read_text(encoding="utf-8"), filename=path)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")
            )
    return frozenset(names)


def references(text: str) -> list[tuple[str, str]]:
    return [(path, name.removeprefix("::")) for path, name in REFERENCE.findall(text)]


def rows(text: str) -> list[tuple[tuple[int, int, int], list[str]]]:
    """Every table row that maps a requirement: its id and its cells."""
    found = []
    for match in ROW.finditer(text):
        requirement = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        found.append((requirement, [cell.strip() for cell in match.group(0).strip().strip("|").split("|")]))
    return found


def test_every_cited_test_exists():
    cited = references(document())
    assert len(cited) > 50, "the document cites hardly any tests: is the reference pattern still right?"
    missing = []
    for path, name in sorted(set(cited)):
        if not (ROOT / path).is_file():
            missing.append(f"{path} (no such file)")
        elif name not in defined_tests(path):
            missing.append(f"{path}::{name}")
    assert not missing, "SECURITY.md cites tests that do not exist:\n" + "\n".join(missing)


def test_requirement_ids_are_asvs_5_ids_listed_once():
    mapped = [requirement for requirement, _ in rows(document())]
    wrong = ["V{}.{}.{}".format(*r) for r in mapped if not (1 <= r[2] <= SECTIONS.get(r[0], {}).get(r[1], 0))]
    assert not wrong, f"not ASVS 5.0 requirement ids: {wrong}"
    twice = sorted({"V{}.{}.{}".format(*r) for r in mapped if mapped.count(r) > 1})
    assert not twice, f"mapped more than once: {twice}"


def test_the_covered_chapters_list_every_requirement():
    mapped = {requirement for requirement, _ in rows(document())}
    every = {
        (chapter, section, number)
        for chapter in COVERED_IN_FULL
        for section, count in SECTIONS[chapter].items()
        for number in range(1, count + 1)
    }
    absent = sorted("V{}.{}.{}".format(*r) for r in every - mapped)
    assert not absent, f"requirements of V6, V7, V8 and V11 missing from SECURITY.md: {absent}"


def test_each_chapter_maps_a_control_to_a_test():
    proven: dict[int, int] = dict.fromkeys(COVERED_IN_FULL, 0)
    for (chapter, _, _), cells in rows(document()):
        assert len(cells) == 5, f"a requirement row has {len(cells)} cells, not 5: {cells}"
        status, proof = cells[3], cells[4]
        if chapter in proven and not status.startswith("N/A") and references(proof):
            proven[chapter] += 1
    unmapped = [f"V{chapter}" for chapter, count in proven.items() if count == 0]
    assert not unmapped, f"chapters without a control proven by a test: {unmapped}"


def test_accepted_risks_are_written_down():
    text = document()
    assert "\n## Accepted risks\n" in text
    risks = text.split("\n## Accepted risks\n", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"^\*\*[^*]+\*\* \(", risks, re.MULTILINE)) >= 4, "each risk starts with its name in bold"


def test_the_collector_sees_parametrized_and_class_tests(tmp_path):
    """The checks above can fail: a parametrized test counts by its base name, a class method by
    ``Class::method``, and a name that is not a test function does not count."""
    module = tmp_path / "tests" / "test_probe.py"
    module.parent.mkdir()
    module.write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('x', [1, 2])\n"
        "def test_param(x):\n    pass\n\n"
        "class TestGroup:\n    def test_member(self):\n        pass\n\n"
        "def helper():\n    pass\n",
        encoding="utf-8",
    )
    assert defined_tests("tests/test_probe.py", tmp_path) == {"test_param", "TestGroup::test_member"}
    cited = references("`tests/test_probe.py::test_param[1]` and `tests/test_probe.py::TestGroup::test_member`")
    assert cited == [("tests/test_probe.py", "test_param"), ("tests/test_probe.py", "TestGroup::test_member")]
