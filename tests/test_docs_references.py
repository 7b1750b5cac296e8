"""Every pointer into the project's notes (``docs/theory.md §N.M``, ``docs/design.md §N``)
names a section that exists, and nothing points at notes outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = {"theory": ROOT / "docs" / "theory.md", "design": ROOT / "docs" / "design.md"}
#: where references may appear: the package, the CLI, examples, benchmarks, tests, README, docs
SCANNED = ("commlb", "cli", "examples", "bench", "tests", "docs")
SUFFIXES = {".py", ".md", ".txt", ".toml", ".cfg"}

_HEADING = re.compile(r"^(#{2,4})\s+(\d+(?:\.\d+)*)\.?\s+\S", re.MULTILINE)
_SEC = r"§\d+(?:\.\d+)*(?:–\d+(?:\.\d+)*)?"
# "docs/theory.md §3.4", "docs/theory.md §7.5, §9.5", "docs/theory.md §3.1–3.2 and §10.1"
_REF = re.compile(r"docs/(theory|design)\.md\s*((?:" + _SEC + r")(?:\s*(?:,|/|and|or)\s*" + _SEC + r")*)")
_ONE = re.compile(r"§(\d+(?:\.\d+)*)(?:–(\d+(?:\.\d+)*))?")
# the bare file names of notes that are not part of the project (upper case, no docs/ prefix)
_OUTSIDE = re.compile(r"(?<![\w/])(THEORY|DESIGN)\.md")


def headings(text: str) -> set[str]:
    """Section numbers of a document: ``## 3. From a model…`` gives "3", ``### 3.4 …`` "3.4"."""
    return {m.group(2) for m in _HEADING.finditer(text)}


def references(text: str) -> list[tuple[str, str]]:
    """(document, section) for every section named by a reference in ``text``; a range
    ``§9.2–9.4`` names both of its ends (``§3.1–3.2`` -> 3.1 and 3.2)."""
    out = []
    for m in _REF.finditer(text):
        doc = m.group(1)
        for one in _ONE.finditer(m.group(2)):
            start, end = one.group(1), one.group(2)
            out.append((doc, start))
            if end is not None:
                if "." not in end and "." in start:  # "§3.1–2" is not used; "§3.1–3.2" is
                    end = start.rsplit(".", 1)[0] + "." + end
                out.append((doc, end))
    return out


def _files() -> list[Path]:
    files = [ROOT / "README.md"]
    for top in SCANNED:
        files += [p for p in sorted((ROOT / top).rglob("*")) if p.is_file() and p.suffix in SUFFIXES
                  and "__pycache__" not in p.parts]
    return files


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_both_documents_exist_with_numbered_sections():
    for name, path in DOCS.items():
        assert path.is_file(), f"docs/{name}.md is missing"
        secs = headings(path.read_text(encoding="utf-8"))
        assert secs, f"docs/{name}.md has no numbered sections"


def test_parser_finds_references_and_flags_a_missing_section():
    text = "see docs/theory.md §3.4, §9.2–9.4 and docs/design.md §4; also docs/theory.md §99.1."
    refs = references(text)
    assert refs == [("theory", "3.4"), ("theory", "9.2"), ("theory", "9.4"), ("design", "4"),
                    ("theory", "99.1")]
    known = headings(DOCS["theory"].read_text(encoding="utf-8"))
    assert "99.1" not in known and "3.4" in known
    assert headings("## 1. A\n### 1.1 B\n#### 1.1.1 C\n") == {"1", "1.1", "1.1.1"}


def test_every_reference_names_an_existing_section():
    known = {name: headings(path.read_text(encoding="utf-8")) for name, path in DOCS.items()}
    missing = []
    count = 0
    for path in _files():
        if path == Path(__file__).resolve():  # holds a deliberately missing section
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for doc, sec in references(text):
            count += 1
            if sec not in known[doc]:
                missing.append(f"{_rel(path)}: docs/{doc}.md §{sec}")
    assert not missing, "references to sections that do not exist:\n" + "\n".join(missing)
    assert count > 100  # the code does cite the notes; a parser that finds nothing is broken


def test_nothing_points_outside_the_repository():
    bad = []
    for path in _files():
        if path == Path(__file__).resolve():
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if _OUTSIDE.search(line):
                bad.append(f"{_rel(path)}:{lineno}: {line.strip()[:90]}")
    assert not bad, "references to notes outside the repository:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_section_numbers_are_unique_and_in_order(name):
    text = DOCS[name].read_text(encoding="utf-8")
    nums = [m.group(2) for m in _HEADING.finditer(text)]
    assert len(nums) == len(set(nums)), f"docs/{name}.md repeats a section number"
    keys = [tuple(int(p) for p in n.split(".")) for n in nums]
    assert keys == sorted(keys), f"docs/{name}.md sections are out of order"
