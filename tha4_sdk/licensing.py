"""Licences and credits as data: what each bundle may be used for, and whom a render must credit.

Every manifest (``tha4_sdk/sample_characters/*.yaml``, ``tha4_sdk/models/**/sources.yaml``) names its
licence (an SPDX identifier), the licence's URL and the attribution it owes; `bundle_licence` reads them for
a bundle name. A render's credits (`credits_for`) are the character's (its ``character.yaml``, or the
official manifest its image matches) and those of the weights that made it: each renderer class declares
them in ``Renderer.learned_weights``, a model bundle or, for a student, the teacher its character.yaml
records (``teacher:``, written by ``tha4 distill``). docs/licensing.md says what a commercial game may ship.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from tha4_sdk import hub, plugins
from tha4_sdk.character import Character
from tha4_sdk.errors import Tha4Error
from tha4_sdk.files import sha256_file

#: SPDX licence → whether it allows commercial use (all of these require attribution)
COMMERCIAL_USE: dict[str, bool] = {
    "CC-BY-4.0": True,
    "CC-BY-NC-4.0": False,
    "Apache-2.0": True,
    "MIT": True,
}
#: ``Renderer.learned_weights`` of renderers that run the character's own distilled student weights
STUDENT = "student"
#: the bundle a student without a teacher record is credited to: the official samples' teacher (THA4)
DEFAULT_TEACHER = "teacher"
UNKNOWN = "unknown (add `license:` and `attribution:` to the character's character.yaml)"


class LicenceError(Tha4Error):
    """A bundle or teacher record whose licence is unknown or not stated."""


@dataclass(frozen=True)
class Licence:
    """The licence of one bundle and the attribution it owes."""

    bundle: str
    license: str
    license_url: str
    attribution: str
    source: str

    @property
    def commercial_use(self) -> bool:
        """True when the licence allows commercial use (with attribution)."""
        return COMMERCIAL_USE[self.license]

    def notice(self) -> str:
        """One line to show wherever the work is used: ``attribution (licence, URL)``."""
        return f"{self.attribution} ({self.license}, {self.license_url})"

    def as_dict(self) -> dict[str, Any]:
        """For package manifests (e.g. a distilled student's record of its teacher, `from_record` reads it)."""
        return {**asdict(self), "commercial_use": self.commercial_use}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], where: str) -> "Licence":
        """The licence an `as_dict` record states (`LicenceError`, naming ``where``, when it is incomplete)."""
        fields = ("bundle", "license", "license_url", "attribution", "source")
        bad = [f for f in fields if not isinstance(record.get(f), str) or (f != "source" and not record[f])]
        if bad:
            raise LicenceError(f"{where}: the teacher record lacks {', '.join(bad)}; distill again, or write it "
                               f"as tha4_sdk.licensing.bundle_licence(NAME).as_dict() gives it")
        if record["license"] not in COMMERCIAL_USE:
            raise LicenceError(f"{where}: unknown licence {record['license']!r}; known: {', '.join(COMMERCIAL_USE)}")
        return cls(*(record[f] for f in fields))


def licence_of(b: hub.Bundle) -> Licence:
    """The `Licence` a manifest states (`LicenceError` when it states none, or one not in `COMMERCIAL_USE`)."""
    if not b.license or not b.attribution:
        raise LicenceError(f"bundle {b.name!r} states no licence or attribution; add them to its manifest")
    if b.license not in COMMERCIAL_USE:
        raise LicenceError(f"bundle {b.name!r}: unknown licence {b.license!r}; known: {', '.join(COMMERCIAL_USE)}")
    return Licence(b.name, b.license, b.license_url, b.attribution, b.source)


def bundle_licence(name: str, kind: str | None = None) -> Licence:
    """The licence of the model or character bundle ``name`` (``kind`` "model"/"character" to disambiguate)."""
    found = hub.bundles(kind)
    if name not in found:
        raise LicenceError(f"unknown bundle {name!r}; known: {', '.join(found)}")
    return licence_of(found[name])


@dataclass(frozen=True)
class Credit:
    """One credited work: what it is, who made it, under which licence."""

    work: str
    attribution: str
    license: str
    license_url: str = ""

    @classmethod
    def of(cls, work: str, licence: Licence) -> "Credit":
        """The credit a `Licence` states for ``work``."""
        return cls(work, licence.attribution, licence.license, licence.license_url)

    def line(self) -> str:
        """``work: attribution. Licence: LICENSE (URL)`` on one line."""
        url = f" ({self.license_url})" if self.license_url else ""
        return f"{self.work}: {self.attribution}. Licence: {self.license}{url}"

    def as_dict(self) -> dict[str, str]:
        """For export manifests (``character.json``): the fields and the `line`."""
        return {**asdict(self), "line": self.line()}


def _official_character(path: Path | None) -> hub.Bundle | None:
    """The official character bundle that pins a file with the SHA-256 of ``path`` (None: none does)."""
    if path is None:
        return None
    digest = sha256_file(path)
    return next((b for b in hub.bundles("character").values() if any(f.sha256 == digest for f in b.files)), None)


def character_credit(character: Character) -> Credit:
    """The character's credit: from its character.yaml, else from the official manifest its image matches."""
    work = f"Character {character.name}"
    if character.license or character.attribution:
        return Credit(work, character.attribution or "unknown", character.license or "unknown")
    official = _official_character(character.image_path)
    return Credit.of(work, licence_of(official)) if official else Credit(work, UNKNOWN, UNKNOWN)


def student_teacher(character: Character) -> tuple[Licence, str]:
    """The licence a character's student weights owe (their teacher's) and how it is known.

    Its character.yaml's teacher record when there is one; else THA4's (`DEFAULT_TEACHER`): known for the
    official samples' weights (recognised by SHA-256), assumed for any other student without a record.
    """
    where = f"character {character.name!r}"
    if character.teacher is not None:
        licence = Licence.from_record(character.teacher, where)
        return licence, f"student distilled from {licence.bundle!r}, as its character.yaml records"
    licence = bundle_licence(DEFAULT_TEACHER, "model")
    official = _official_character(character.face_morpher_path)
    if official is not None:
        return licence, f"the official {official.name} student, distilled from {licence.bundle!r}"
    return licence, f"student with no teacher in its character.yaml, taken as distilled from {licence.bundle!r}"


def model_credit(character: Character, renderer: str) -> Credit | None:
    """The credit of the weights ``renderer`` renders ``character`` with (None for renderers without any)."""
    weights = plugins.get("renderer", renderer).learned_weights
    if weights is None:
        return None
    if weights == STUDENT:
        licence, how = student_teacher(character)
        return Credit.of(f"Model ({renderer} renderer; {how})", licence)
    return Credit.of(f"Model ({renderer} renderer)", bundle_licence(weights, "model"))


def credits_for(character: Character, renderer: str) -> list[Credit]:
    """Every credit of a render of ``character`` by ``renderer``: the character, then the model."""
    model = model_credit(character, renderer)
    return [character_credit(character)] + ([model] if model else [])
