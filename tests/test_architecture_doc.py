"""docs/architecture.md: every `§` reference in the code names a section of that page."""

from __future__ import annotations

import re

from conftest import REPO

DOC = REPO / "docs" / "architecture.md"
# references to other documents: the protocol's sections and the THA4 paper's
OTHER_DOCUMENTS = re.compile(r"protocol|paper|reference architecture document", re.I)


def sections() -> set[str]:
    return set(re.findall(r"^#+ §(S?\d+(?:\.\d+)?)\b", DOC.read_text(), re.M)) | set(
        re.findall(r"\*\*§(\d+\.\d+)\b", DOC.read_text()))


def references() -> list[tuple[str, str]]:
    found = []
    for path in [*REPO.glob("tha4_sdk/**/*.py"), *REPO.glob("plugins/**/*.py")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "§" in line and not OTHER_DOCUMENTS.search(line):
                found += [(f"{path.relative_to(REPO)}: {line.strip()}", ref)
                          for ref in re.findall(r"§(S?\d+(?:\.\d+)?)", line)]
    return found


def test_every_section_reference_in_the_code_resolves_in_docs_architecture() -> None:
    refs = references()
    assert len(refs) >= 15  # the model files cite the page throughout
    known = sections()
    assert {"0.1", "0.2", "7.2", "7.3", "10", "11", "S1", "S3"} <= known
    assert [where for where, ref in refs if ref not in known] == []
