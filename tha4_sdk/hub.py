"""Fetching official files: pinned SHA-256, progress bar, cache (``THA4_HOME``), atomic writes, offline folders.

A *bundle* is a YAML manifest naming files by URL and SHA-256: the sample characters live in the
repository's ``characters/`` folder, models in ``tha4_sdk/models/**/sources.yaml``. Files land in
``$THA4_HOME/<kind>s/<name>/`` (``THA4_HOME`` defaults to the user cache folder). ``--from DIR``
takes the files from a local folder instead (verified the same way). ``THA4_MIRROR`` (or
``mirror=``) replaces the download host: a file is then fetched from ``MIRROR/<bundle>/<file>``.

Manifest format::

    name: lambda_00
    kind: character            # or model
    license: CC-BY-NC-4.0
    attribution: …
    files:
      character.png: {url: https://…, sha256: …, size: 110769}
    package: {…}               # characters: the character.yaml body written after fetching
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from platformdirs import user_cache_dir
from tqdm import tqdm

import tha4_sdk

REPO_CHARACTERS = Path(tha4_sdk.__file__).resolve().parent.parent / "characters"
MODEL_MANIFESTS = Path(tha4_sdk.__file__).resolve().parent / "models"
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download or offline copy that failed, with what to do about it."""


@dataclass(frozen=True)
class FileSpec:
    name: str
    url: str
    sha256: str | None
    size: int | None = None


@dataclass(frozen=True)
class Bundle:
    name: str
    kind: str
    files: tuple[FileSpec, ...]
    license: str = ""
    attribution: str = ""
    package: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def target(self) -> Path:
        return home() / f"{self.kind}s" / self.name


def home() -> Path:
    """The cache root: ``$THA4_HOME`` or the platform's user cache folder."""
    return Path(os.environ.get("THA4_HOME") or user_cache_dir("tha4-sdk", appauthor=False))


def _parse_bundle(path: Path) -> Bundle:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        files = tuple(
            FileSpec(name, spec["url"], spec.get("sha256"), spec.get("size")) for name, spec in data["files"].items()
        )
        return Bundle(name=data["name"], kind=data["kind"], files=files, license=data.get("license", ""),
                      attribution=data.get("attribution", ""), package=data.get("package") or {},
                      notes=data.get("notes", ""))
    except (KeyError, TypeError, AttributeError) as e:
        raise FetchError(f"{path}: malformed manifest ({e})") from None


def bundles(kind: str | None = None) -> dict[str, Bundle]:
    """Every known manifest (characters/*.yaml and models/**/sources.yaml), by name."""
    paths = sorted(REPO_CHARACTERS.glob("*.yaml")) + sorted(MODEL_MANIFESTS.rglob("sources.yaml"))
    found = {b.name: b for b in map(_parse_bundle, paths)}
    return {n: b for n, b in found.items() if kind is None or b.kind == kind}


def bundle(name: str, kind: str) -> Bundle:
    known = bundles(kind)
    if name not in known:
        raise FetchError(f"unknown {kind} {name!r}; known: {', '.join(known) or 'none'}")
    return known[name]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, spec: FileSpec, origin: str) -> None:
    if spec.sha256 is None:
        return
    got = sha256_file(path)
    if got != spec.sha256:
        raise FetchError(f"{spec.name} from {origin}: SHA-256 {got} does not match the pinned {spec.sha256}; "
                         "the file is corrupt or not the official one (nothing was installed)")


def _atomic_target(dest: Path) -> tempfile._TemporaryFileWrapper:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.NamedTemporaryFile(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False)


def download(url: str, dest: Path, spec: FileSpec, *, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` through a temp file; verify the pin, then rename into place."""
    tmp = _atomic_target(dest)
    try:
        with tmp, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or spec.size
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.name, disable=not progress,
                      leave=False) as bar:
                for chunk in iter(lambda: resp.read(CHUNK), b""):
                    tmp.write(chunk)
                    bar.update(len(chunk))
        _verify(Path(tmp.name), spec, url)
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise FetchError(f"could not download {spec.name} from {url}: {e}. Check the network, or fetch the "
                         "files elsewhere and use --from DIR") from None
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    return dest


def copy_verified(src: Path, dest: Path, spec: FileSpec) -> Path:
    """Copy a local file into the cache through a temp file, verifying its pin first."""
    _verify(src, spec, str(src))
    tmp = _atomic_target(dest)
    try:
        with tmp, open(src, "rb") as f:
            shutil.copyfileobj(f, tmp, CHUNK)
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, dest)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    return dest


def _find_local(folder: Path, spec: FileSpec, bundle_name: str) -> Path:
    for candidate in (folder / spec.name, folder / bundle_name / spec.name):
        if candidate.is_file():
            return candidate
    raise FetchError(f"{spec.name} not found in {folder} (looked for {folder / spec.name})")


def fetch(b: Bundle, *, from_dir: str | Path | None = None, mirror: str | None = None,
          progress: bool = True, force: bool = False) -> Path:
    """Make every file of ``b`` present and verified in its cache folder; return the folder."""
    mirror = mirror or os.environ.get("THA4_MIRROR")
    target = b.target
    files: Iterable[FileSpec] = b.files
    for spec in tqdm(list(files), desc=f"{b.kind} {b.name}", unit="file", disable=not progress):
        dest = target / spec.name
        if dest.is_file() and not force:
            try:
                _verify(dest, spec, str(dest))
                continue
            except FetchError:
                dest.unlink()  # a stale or damaged cached copy: fetch it again
        if from_dir is not None:
            copy_verified(_find_local(Path(from_dir), spec, b.name), dest, spec)
        else:
            url = f"{mirror.rstrip('/')}/{b.name}/{spec.name}" if mirror else spec.url
            download(url, dest, spec, progress=progress)
    if b.kind == "character":
        from tha4_sdk.character import write_character

        pkg = b.package
        student = pkg.get("student") or {}
        write_character(target, name=b.name, image=pkg.get("image", "character.png"), face_mask=pkg.get("face_mask"),
                        face_morpher=student.get("face_morpher"), body_morpher=student.get("body_morpher"),
                        attribution=b.attribution, license=b.license)
    return target


def is_fetched(b: Bundle) -> bool:
    return all((b.target / f.name).is_file() for f in b.files)


def resolve_character(spec: str | Path):
    """A character from a folder, a YAML file, an image file, or the name of a fetched character."""
    from tha4_sdk.character import Character, CharacterError, load_character

    path = Path(spec)
    if path.is_dir() or (path.is_file() and path.suffix.lower() in (".yaml", ".yml")):
        return load_character(path)
    if path.is_file():
        return Character.from_image(path)
    name = str(spec)
    cached = home() / "characters" / name
    if (cached / "character.yaml").is_file():
        return load_character(cached)
    if name in bundles("character"):
        raise CharacterError(f"character {name!r} is not fetched yet: run `tha4 characters fetch {name}`")
    raise CharacterError(f"{name!r} is neither a character folder, an image file, nor a known character "
                         f"(known: {', '.join(bundles('character'))})")
