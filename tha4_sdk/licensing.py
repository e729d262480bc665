"""Licences as data: what each model bundle and character may be used for, and whom it must credit.

Every manifest (``tha4_sdk/sample_characters/*.yaml``, ``tha4_sdk/models/**/sources.yaml``) names its
licence (an SPDX identifier), the licence's URL and the attribution it owes. `bundle_licence` reads them for a bundle name,
for example to record a distillation teacher's licence in the package it produces; docs/licensing.md
says what a commercial game may ship.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tha4_sdk import hub
from tha4_sdk.errors import Tha4Error

#: SPDX licence → whether it allows commercial use (all of these require attribution)
COMMERCIAL_USE: dict[str, bool] = {
    "CC-BY-4.0": True,
    "CC-BY-NC-4.0": False,
    "Apache-2.0": True,
    "MIT": True,
}


class LicenceError(Tha4Error):
    """A bundle whose licence is unknown or not stated."""


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
        """For package manifests (e.g. a distilled student's record of its teacher)."""
        return {**asdict(self), "commercial_use": self.commercial_use}


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
