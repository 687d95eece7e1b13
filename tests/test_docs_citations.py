"""Docs that point somewhere: every "DESIGN §n" and "phaze-original.md §n" citation in the code, config, tests,
benchmarks and docs names a heading of docs/design.md or docs/phaze-original.md, and every repository path the
README and docs/ quote in backticks exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DESIGN = DOCS / "design.md"
ORIGINAL = DOCS / "phaze-original.md"

# Where citations may appear: the package (code and config), tests and their data, benchmarks, the docs.
SCANNED = ("phaze/**/*.py", "phaze/conf/**/*.yaml", "phaze/data/*.csv", "tests/**/*.py", "tests/data/*.csv",
           "benchmarks/*.py", "benchmarks/*.csv", "docs/*.md", "*.md", "pyproject.toml", "Makefile")

_SECTION = r"§\d+(?:\.\d+)*(?:[–-]\d+(?:\.\d+)*)?"
# "DESIGN §8", "DESIGN.md §10", "DESIGN §1, §8", "DESIGN §6–7"
DESIGN_CITE = re.compile(rf"DESIGN(?:\.md)?,?\s+({_SECTION}(?:\s*(?:,|and)\s*{_SECTION})*)")
# "docs/phaze-original.md §3.1", "phaze-original.md §8 B7" (B7 is an item of §8)
ORIGINAL_CITE = re.compile(rf"phaze-original(?:\.md)?,?\s+({_SECTION}(?:\s*(?:,|and)\s*{_SECTION})*)")


def scanned_files() -> list[Path]:
    files: set[Path] = set()
    for pattern in SCANNED:
        files.update(p for p in ROOT.glob(pattern) if p.is_file() and ".venv" not in p.parts)
    files.discard(ORIGINAL)  # its own "§n" cross-references are not citations of it
    files.discard(Path(__file__).resolve())  # this file's examples are not citations
    return sorted(files)


def sections(group: str) -> list[str]:
    """The section numbers of "§1, §8" or "§6–7" (a range names each section in it)."""
    out = []
    for item in re.findall(_SECTION, group):
        first, _, last = item.lstrip("§").replace("–", "-").partition("-")
        if last and "." not in first and "." not in last:
            out.extend(str(n) for n in range(int(first), int(last) + 1))
        else:
            out.extend(x for x in (first, last) if x)
    return out


def headings(path: Path, pattern: str) -> set[str]:
    """Section numbers of the markdown headings of `path` (e.g. "## §5 Cost models" or "### 3.1 Area")."""
    found = set()
    for line in path.read_text().splitlines():
        m = re.match(rf"^#{{1,6}}\s+{pattern}(\d+(?:\.\d+)*)[.\s]", line + " ")
        if m:
            found.add(m.group(1))
    return found


def citations(regex: re.Pattern[str]) -> list[tuple[str, str]]:
    """(file:line, section) for every citation `regex` finds in the scanned files."""
    out = []
    for path in scanned_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for m in regex.finditer(line):
                out.extend((f"{path.relative_to(ROOT)}:{n}", s) for s in sections(m.group(1)))
    return out


def unresolved(cites: list[tuple[str, str]], known: set[str]) -> list[str]:
    return [f"{where}: §{s}" for where, s in cites if s not in known]


def test_the_cited_files_are_in_the_repository() -> None:
    assert DESIGN.is_file() and ORIGINAL.is_file()
    assert ORIGINAL.read_text().splitlines()[2].startswith("Source: the public repository msr-fiddle/phaze")


def test_every_design_citation_names_a_heading_of_docs_design() -> None:
    cites = citations(DESIGN_CITE)
    assert len(cites) > 100  # the code cites the design ~160 times: the pattern must keep finding them
    assert unresolved(cites, headings(DESIGN, "§")) == []


def test_every_phaze_original_citation_names_a_heading_of_docs_phaze_original() -> None:
    cites = citations(ORIGINAL_CITE)
    assert len(cites) > 20
    assert unresolved(cites, headings(ORIGINAL, "")) == []


def test_phaze_original_is_cited_by_its_repository_path() -> None:
    """Outside docs/ (where a relative link is right) the file is named docs/phaze-original.md, never the
    reference/ folder it came from."""
    stale = []
    for path in scanned_files():
        if path.parent == DOCS:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            old_name = "phaze-original" in line and "docs/phaze-original.md" not in line
            if old_name or re.search(r"reference/\w+\.(csv|md)", line):
                stale.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert stale == []


def test_an_unknown_section_is_reported() -> None:
    """The checker can fail: a citation of a section that has no heading is listed, ranges name each section."""
    line = "see DESIGN §42 and DESIGN §6–7, also DESIGN §1, §8"
    found = [s for m in DESIGN_CITE.finditer(line) for s in sections(m.group(1))]
    assert found == ["42", "6", "7", "1", "8"]
    assert unresolved([("x", s) for s in found], headings(DESIGN, "§")) == ["x: §42"]
    assert [s for m in ORIGINAL_CITE.finditer("phaze-original.md §8 B7") for s in sections(m.group(1))] == ["8"]
    assert [s for m in ORIGINAL_CITE.finditer("phaze-original.md §3.1, §7") for s in sections(m.group(1))] \
        == ["3.1", "7"]


# Repository paths quoted in backticks in the README and docs/ must exist (the config moved from conf/ to
# phaze/conf/: a stale path is a doc that points nowhere). Placeholders (NAME, <...>, *) are not paths.
PATH_TOKEN = re.compile(r"`((?:phaze|benchmarks|tests|docs)/[\w./-]+?)(?:::\w+)?`")
PLACEHOLDER = re.compile(r"NAME|<|\*|(^|/)my")  # my_chip.yaml, myconf/: files the reader makes


def doc_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.name)
def test_quoted_repository_paths_exist(doc: Path) -> None:
    if not doc.is_file():
        pytest.fail(f"{doc.relative_to(ROOT)} is missing")
    if doc == ORIGINAL:
        pytest.skip("describes the original repository's paths, not phaze's")
    missing = sorted({m.group(1) for m in PATH_TOKEN.finditer(doc.read_text())
                      if not PLACEHOLDER.search(m.group(1)) and not (ROOT / m.group(1)).exists()})
    assert missing == []
