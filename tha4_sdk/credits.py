"""Who made what a render shows: the licence and attribution of the character and of the model weights.

Exports that ship pictures (Ren'Py projects, …) carry these lines. A character's own ``character.yaml``
says it (``license:``, ``attribution:``); an official sample without one (the bare official folder) is
recognised by the SHA-256 of its image against the pinned manifests in ``characters/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tha4_sdk import hub
from tha4_sdk.character import Character
from tha4_sdk.files import sha256_file
from tha4_sdk.licensing import Licence, bundle_licence, licence_of

#: the model manifest whose weights (or whose teacher, for a distilled student) each renderer runs on
MODEL_OF_RENDERER = {"student": "teacher", "teacher": "teacher", "tha3": "tha3"}
UNKNOWN = "unknown (add `license:` and `attribution:` to the character's character.yaml)"


@dataclass(frozen=True)
class Credit:
    """One credited work: what it is, who made it, under which licence."""

    work: str
    attribution: str
    license: str
    license_url: str = ""

    @classmethod
    def of(cls, work: str, licence: Licence) -> "Credit":
        """The credit a bundle's manifest states (`tha4_sdk.licensing`)."""
        return cls(work, licence.attribution, licence.license, licence.license_url)

    def line(self) -> str:
        """``work: attribution. Licence: LICENSE (URL)`` on one line."""
        url = f" ({self.license_url})" if self.license_url else ""
        return f"{self.work}: {self.attribution}. Licence: {self.license}{url}"


def character_credit(character: Character) -> Credit:
    """The character's credit: from its character.yaml, else from the official manifest its image matches."""
    work = f"Character {character.name}"
    if character.license or character.attribution:
        return Credit(work, character.attribution or "unknown", character.license or "unknown")
    digest = sha256_file(character.image_path)
    for bundle in hub.bundles("character").values():
        if any(spec.sha256 == digest for spec in bundle.files):
            return Credit.of(work, licence_of(bundle))
    return Credit(work, UNKNOWN, UNKNOWN)


def model_credit(renderer: str) -> Credit | None:
    """The credit of the model weights ``renderer`` runs on (None for renderers without learned weights)."""
    name = MODEL_OF_RENDERER.get(renderer)
    if name is None:
        return None
    return Credit.of(f"Model ({renderer} renderer)", bundle_licence(name, "model"))


def credits_for(character: Character, renderer: str) -> list[Credit]:
    """Every credit of a render of ``character`` by ``renderer``: the character, then the model."""
    model = model_credit(renderer)
    return [character_credit(character)] + ([model] if model else [])
