"""Every `§` reference in the code names a section inside this repository.

The model code cites docs/architecture.md (teacher §N, student §SN); the daemon and its client cite
docs/protocol.md (§N, §N.M).
"""

from __future__ import annotations

import re

from conftest import REPO

ARCHITECTURE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
PROTOCOL = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
PROTOCOL_ROOMS = ("tha4_sdk/daemon/", "tha4_sdk/client.py")
# a line that cites a document outside the repository: the THA4 paper
PAPER = re.compile(r"\bpaper\b", re.I)
REFERENCE = re.compile(r"§(S?\d+(?:\.\d+)?)")


def architecture_sections() -> set[str]:
    return set(re.findall(r"^#+ §(S?\d+(?:\.\d+)?)\b", ARCHITECTURE, re.M)) | set(
        re.findall(r"\*\*§(\d+\.\d+)\b", ARCHITECTURE))


def protocol_sections() -> set[str]:
    return set(re.findall(r"^#+ (\d+(?:\.\d+)?) ", PROTOCOL, re.M))


def references() -> list[tuple[str, str, str]]:
    """(file, line, section) for every `§` in the SDK and its plugins."""
    found = []
    for path in sorted([*REPO.glob("tha4_sdk/**/*.py"), *REPO.glob("plugins/**/*.py")]):
        name = str(path.relative_to(REPO))
        for line in path.read_text(encoding="utf-8").splitlines():
            if not PAPER.search(line):
                found += [(name, line.strip(), ref) for ref in REFERENCE.findall(line)]
    return found


def test_every_section_reference_in_the_code_resolves_inside_the_repository() -> None:
    refs = references()
    architecture, protocol = architecture_sections(), protocol_sections()
    assert {"0.1", "0.2", "7.2", "7.3", "10", "11", "S1", "S3"} <= architecture and {"2.2", "6", "10"} <= protocol
    cited = [(name, line, ref) for name, line, ref in refs if not name.startswith(PROTOCOL_ROOMS)]
    assert len(cited) >= 15  # the model files cite the page throughout
    unresolved = [f"{name}: {line}" for name, line, ref in refs
                  if ref not in (protocol if name.startswith(PROTOCOL_ROOMS) else architecture)]
    assert unresolved == []
