"""Which characters the daemon may open or create: names in its character store, absolute paths under allowed
roots.

A name (``lambda_00``) is looked up in the store folder only; it cannot contain a path separator or start
with a dot, so it cannot leave the store. A folder path is accepted only when it is absolute and, with
links resolved, lies inside one of the roots the daemon was started with (``tha4 serve --allow-root``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from tha4_sdk.character import Character, CharacterError, load_character
from tha4_sdk.daemon.protocol import ProtocolError
from tha4_sdk.daemon.schema import NAME_PATTERN
from tha4_sdk.files import is_free_folder


class CharacterLibrary:
    """The character store plus the folders that may be opened by path."""

    def __init__(self, store: Path, allowed_roots: Sequence[Path] = ()) -> None:
        self.store = Path(store)
        self.allowed_roots = tuple(Path(r).resolve() for r in allowed_roots)

    def folder(self, ref: str) -> Path:
        """The folder a character reference names (`ProtocolError` ``forbidden`` / ``not_found``)."""
        if NAME_PATTERN.fullmatch(ref):
            folder = self.store / ref
            if not folder.is_dir():
                known = ", ".join(self.names()) or "the store is empty"
                raise ProtocolError("not_found", f"no character {ref!r} in the store {self.store} ({known})")
            return folder
        resolved = self._allowed_path(ref)
        if not resolved.is_dir():
            raise ProtocolError("not_found", f"{ref}: no such character folder")
        return resolved

    def load(self, ref: str) -> Character:
        """Open the character package ``ref`` names (`ProtocolError` ``load_failed`` when it is unusable)."""
        try:
            return load_character(self.folder(ref))
        except CharacterError as e:
            raise ProtocolError("load_failed", str(e)) from None

    def names(self) -> list[str]:
        if not self.store.is_dir():
            return []
        return sorted(p.name for p in self.store.iterdir() if p.is_dir() and NAME_PATTERN.fullmatch(p.name))

    def describe(self) -> list[dict[str, Any]]:
        """One entry per usable character in the store (unreadable packages are left out)."""
        out = []
        for name in self.names():
            try:
                c = load_character(self.store / name)
            except CharacterError:
                continue
            out.append({"name": name, "has_student": c.has_student, "has_face_mask": c.face_mask_path is not None,
                        "attribution": c.attribution, "license": c.license})
        return out

    def new_folder(self, ref: str) -> Path:
        """The folder for a new character: a name in the store, or an absolute path under an allowed root
        (``forbidden`` otherwise); ``conflict`` when it exists and is not an empty folder."""
        folder = self.store / ref if NAME_PATTERN.fullmatch(ref) else self._allowed_path(ref)
        if not is_free_folder(folder):
            where = f"a character named {ref!r} already exists in {self.store}" if folder.parent == self.store \
                else f"{ref} already exists and is not an empty folder"
            raise ProtocolError("conflict", where)
        return folder

    def _allowed_path(self, ref: str) -> Path:
        """An absolute path inside an allowed root, links resolved (`ProtocolError` ``forbidden`` otherwise)."""
        path = Path(ref)
        if not path.is_absolute():
            raise ProtocolError("forbidden", f"{ref!r} is neither a character name (letters, digits, _ . -) "
                                             "nor an absolute folder path")
        resolved = path.resolve()
        if not any(resolved == root or root in resolved.parents for root in self.allowed_roots):
            raise ProtocolError("forbidden", f"{ref} is outside the daemon's allowed roots "
                                             "(the daemon opens folders by path only under the roots it was started with)")
        return resolved
