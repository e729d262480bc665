"""Fetching official files: pinned SHA-256, progress bar, cache (``THA4_HOME``), atomic writes, offline folders.

A *bundle* is a YAML manifest naming files by URL and SHA-256, shipped inside the package: the sample
characters in ``tha4_sdk/sample_characters/``, models in ``tha4_sdk/models/**/sources.yaml``. Files land in
``$THA4_HOME/<kind>s/<folder>/`` (``folder`` defaults to the name; ``THA4_HOME`` defaults to the user cache
folder). ``--from DIR`` takes the files from a local folder instead, ``--from ARCHIVE`` from a local zip or
wheel holding them (verified the same way). ``THA4_MIRROR`` (or ``mirror=``) replaces the download host: a
file is then fetched from ``MIRROR/<bundle>/<file>``. A manifest file may hold several bundles (YAML
documents separated by ``---``).
Archives (zip, a wheel, or tar such as npm's ``.tgz``) are verified, their listed members extracted and
verified.

Manifest format::

    name: lambda_00
    kind: character            # or model
    license: CC-BY-NC-4.0      # SPDX identifier; see tha4_sdk/licensing.py
    license_url: https://…
    attribution: …             # what a user must credit
    source: https://…
    files:
      character.png: {url: https://…, sha256: …, size: 110769}
      models.zip:              # an archive: only the listed members are kept (names may hold a subfolder)
        {url: https://…, sha256: …, extract: {sub/a.pt: {member: path/in/zip/sub/a.pt, sha256: …}}}
      pkg.tgz: {url: https://…, integrity: sha512-…, extract: {a.js: {member: package/dist/a.js, sha256: …}}}
    package: {…}               # characters: the character.yaml body written after fetching
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml
from platformdirs import user_cache_dir
from tqdm import tqdm

import tha4_sdk

from tha4_sdk.errors import Tha4Error
from tha4_sdk.files import CHUNK, atomic_path, sha256_file

CHARACTER_MANIFESTS = Path(tha4_sdk.__file__).resolve().parent / "sample_characters"
MODEL_MANIFESTS = Path(tha4_sdk.__file__).resolve().parent / "models"


class FetchError(Tha4Error, RuntimeError):
    """A download or offline copy that failed, with what to do about it."""


@dataclass(frozen=True)
class Member:
    """A file taken out of a downloaded zip archive."""

    name: str
    member: str
    sha256: str | None


@dataclass(frozen=True)
class FileSpec:
    name: str
    url: str
    sha256: str | None
    size: int | None = None
    extract: tuple[Member, ...] = ()
    #: a Subresource-Integrity pin (``sha512-<base64>``, as npm publishes it), checked besides ``sha256``
    integrity: str | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """The names this entry leaves in the cache: the members of an archive, else the file itself."""
        return tuple(m.name for m in self.extract) or (self.name,)


@dataclass(frozen=True)
class Bundle:
    name: str
    kind: str
    files: tuple[FileSpec, ...]
    license: str = ""
    attribution: str = ""
    package: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    license_url: str = ""
    source: str = ""
    folder: str = ""

    @property
    def target(self) -> Path:
        """The cache folder: ``$THA4_HOME/<kind>s/<folder or name>`` (bundles may share one folder)."""
        return home() / f"{self.kind}s" / (self.folder or self.name)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Every file name the bundle leaves in its cache folder."""
        return tuple(n for f in self.files for n in f.outputs)


def home() -> Path:
    """The cache root: ``$THA4_HOME`` or the platform's user cache folder."""
    return Path(os.environ.get("THA4_HOME") or user_cache_dir("tha4-sdk", appauthor=False))


def _parse_bundles(path: Path) -> list[Bundle]:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as e:
        raise FetchError(f"{path}: invalid YAML ({e})") from None
    return [_parse_bundle(path, data) for data in documents]


def _parse_bundle(path: Path, data: Any) -> Bundle:
    try:
        files = tuple(
            FileSpec(name, spec["url"], spec.get("sha256"), spec.get("size"),
                     tuple(Member(m, ms["member"], ms.get("sha256")) for m, ms in (spec.get("extract") or {}).items()),
                     spec.get("integrity"))
            for name, spec in data["files"].items()
        )
        return Bundle(name=data["name"], kind=data["kind"], files=files, license=data.get("license", ""),
                      attribution=data.get("attribution", ""), package=data.get("package") or {},
                      notes=data.get("notes", ""), license_url=data.get("license_url", ""),
                      source=data.get("source", ""), folder=data.get("folder", ""))
    except (KeyError, TypeError, AttributeError) as e:
        raise FetchError(f"{path}: malformed manifest ({e})") from None


def load_bundle(path: str | Path) -> Bundle:
    """Read a manifest file (its first bundle)."""
    found = _parse_bundles(Path(path))
    if not found:
        raise FetchError(f"{path}: no bundle in this manifest")
    return found[0]


def bundles(kind: str | None = None) -> dict[str, Bundle]:
    """Every known manifest (sample_characters/*.yaml and models/**/sources.yaml in the package), by name."""
    paths = sorted(CHARACTER_MANIFESTS.glob("*.yaml")) + sorted(MODEL_MANIFESTS.rglob("sources.yaml"))
    found = {b.name: b for path in paths for b in _parse_bundles(path)}
    return {n: b for n, b in found.items() if kind is None or b.kind == kind}


def bundle(name: str, kind: str) -> Bundle:
    known = bundles(kind)
    if name not in known:
        raise FetchError(f"unknown {kind} {name!r}; known: {', '.join(known) or 'none'}")
    return known[name]


def _check_integrity(path: Path, name: str, integrity: str, origin: str) -> None:
    """Check ``path`` against a Subresource-Integrity string (``sha512-<base64>``, npm's ``dist.integrity``)."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha256", "sha384", "sha512") or not expected:
        raise FetchError(f"{name}: unsupported integrity pin {integrity!r} (expected sha512-<base64>)")
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    got = f"{algorithm}-{base64.b64encode(h.digest()).decode()}"
    if got != integrity:
        raise FetchError(f"{name} from {origin}: integrity {got} does not match the pinned {integrity}; "
                         "the file is corrupt or not the published one (nothing was installed)")


def _verify(path: Path, name: str, pin: str | None, origin: str, trust_unpinned: bool = False,
            integrity: str | None = None) -> str:
    """Check ``path`` against its pins; an unpinned file is refused unless the user explicitly trusts it."""
    if integrity:
        _check_integrity(path, name, integrity, origin)
    got = sha256_file(path)
    if pin is None and integrity:
        return got
    if pin is None:
        if not trust_unpinned:
            raise FetchError(f"{name} has no published SHA-256 to check it against; fetch again with trust_unpinned=True "
                             f"to accept it as downloaded (its SHA-256 is {got}; it will be recorded in PINS.txt)")
        return got
    if got != pin:
        raise FetchError(f"{name} from {origin}: SHA-256 {got} does not match the pinned {pin}; "
                         "the file is corrupt or not the official one (nothing was installed)")
    return got


def download(url: str, dest: Path, spec: FileSpec, *, progress: bool = True, timeout: float = 60.0,
             trust_unpinned: bool = False) -> Path:
    """Download ``url`` to ``dest`` through a temp file; verify the pin, then rename into place."""
    try:
        with atomic_path(dest, mode=0o644) as tmp:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or spec.size
                with tqdm(total=total, unit="B", unit_scale=True, desc=spec.name, disable=not progress,
                          leave=False) as bar:
                    for chunk in iter(lambda: resp.read(CHUNK), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
            _verify(tmp, spec.name, spec.sha256, url, trust_unpinned, spec.integrity)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise FetchError(f"could not download {spec.name} from {url}: {e}. Check the network, or fetch the "
                         "files elsewhere and install them with from_dir=DIR") from None
    return dest


def copy_verified(src: Path | IO[bytes], dest: Path, name: str, pin: str | None,
                  trust_unpinned: bool = False) -> str:
    """Copy a local file (or an open archive member) into the cache through a temp file; verify before renaming."""
    with atomic_path(dest, mode=0o644) as tmp:
        with open(tmp, "wb") as out, (open(src, "rb") if isinstance(src, Path) else src) as f:
            shutil.copyfileobj(f, out, CHUNK)
        return _verify(tmp, name, pin, str(src if isinstance(src, Path) else name), trust_unpinned)


def _member(archive: Path, names: set[str], m: Member) -> str:
    """The archive member holding ``m``: its listed path, else the one member whose path ends in ``/<name>``
    (so an archive with another top folder, e.g. a wheel or a re-zipped folder, works too)."""
    if m.member in names:
        return m.member
    found = [n for n in names if n == m.name or n.endswith("/" + m.name)]
    if len(found) != 1:
        raise FetchError(f"{archive.name}: member {m.member!r} missing from the archive"
                         + (f" (several members end in {m.name}: {', '.join(sorted(found))})" if found else ""))
    return found[0]


def _extract(archive: Path, spec: FileSpec, target: Path, trust_unpinned: bool) -> dict[str, str]:
    """Take the listed members out of a zip archive (or wheel) or a tar archive into ``target``, each verified;
    return their digests."""
    if tarfile.is_tarfile(archive):
        return _extract_tar(archive, spec, target, trust_unpinned)
    try:
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            members = {m.name: _member(archive, names, m) for m in spec.extract}
            return {m.name: copy_verified(zf.open(members[m.name]), target / m.name, m.name, m.sha256, trust_unpinned)
                    for m in spec.extract}
    except zipfile.BadZipFile:
        raise FetchError(f"{archive}: not a zip archive") from None


def _extract_tar(archive: Path, spec: FileSpec, target: Path, trust_unpinned: bool) -> dict[str, str]:
    """`_extract` for a (compressed) tar archive: only regular-file members are read."""
    try:
        with tarfile.open(archive) as tf:
            names = set(tf.getnames())
            digests = {}
            for m in spec.extract:
                info = tf.getmember(_member(archive, names, m))
                fileobj = tf.extractfile(info) if info.isfile() else None
                if fileobj is None:
                    raise FetchError(f"{archive.name}: member {m.member!r} is not a regular file")
                digests[m.name] = copy_verified(fileobj, target / m.name, m.name, m.sha256, trust_unpinned)
            return digests
    except (tarfile.TarError, EOFError, OSError) as e:
        raise FetchError(f"{archive}: not a readable tar archive ({e})") from None


def _find_local(folder: Path, name: str, bundle_name: str, flat: bool = False) -> Path | None:
    """``folder/name`` or ``folder/<bundle>/name``; with ``flat``, also ``folder/<file name without subfolder>``."""
    candidates = [folder / name, folder / bundle_name / name] + ([folder / Path(name).name] if flat else [])
    return next((c for c in candidates if c.is_file()), None)


def _pin_from_record(spec: FileSpec, recorded: dict[str, str]) -> FileSpec:
    """Fill missing pins from hashes recorded on first use, so a later change upstream is caught."""
    members = tuple(dataclasses.replace(m, sha256=m.sha256 or recorded.get(m.name)) for m in spec.extract)
    return dataclasses.replace(spec, sha256=spec.sha256 or (None if members else recorded.get(spec.name)),
                               extract=members)


def _cached_ok(target: Path, spec: FileSpec) -> bool:
    """True when every output of ``spec`` is cached and matches its pin (a damaged copy is removed)."""
    pins = {m.name: m.sha256 for m in spec.extract} or {spec.name: spec.sha256}
    for name, pin in pins.items():
        path = target / name
        if not path.is_file():
            return False
        if pin is None or sha256_file(path) != pin:
            path.unlink()
            return False
    return True


def read_pins(target: Path) -> dict[str, str]:
    """SHA-256s recorded on first use for files that have no published pin (``PINS.txt``)."""
    path = target / "PINS.txt"
    if not path.is_file():
        return {}
    return dict(line.split()[::-1] for line in path.read_text().splitlines() if len(line.split()) == 2)


def _record_pins(target: Path, digests: dict[str, str], spec: FileSpec) -> None:
    pins = {m.name: m.sha256 for m in spec.extract} or {spec.name: spec.sha256}
    unpinned = {n: d for n, d in digests.items() if pins.get(n) is None}
    if unpinned:  # trust on first use: remember what was accepted
        merged = {**read_pins(target), **unpinned}
        (target / "PINS.txt").write_text("".join(f"{d}  {n}\n" for n, d in sorted(merged.items())))


def fetch(b: Bundle, *, from_dir: str | Path | None = None, mirror: str | None = None, progress: bool = True,
          force: bool = False, trust_unpinned: bool = False) -> Path:
    """Make every file of ``b`` present and verified in its cache folder; return the folder.

    Archives are downloaded to a temporary folder, their listed members extracted and verified, and the
    archive deleted. With ``from_dir`` the files (or the archive) are taken from a local folder; a
    ``from_dir`` that is a zip, wheel or tar file is the archive itself (its members are verified by their pins).
    A flat folder of files also serves outputs that live in a subfolder when their file names are unique.
    """
    mirror = mirror or os.environ.get("THA4_MIRROR")
    target = b.target
    target.mkdir(parents=True, exist_ok=True)
    recorded = read_pins(target)
    from_archive = Path(from_dir) if from_dir and Path(from_dir).is_file() else None
    flat = len({Path(n).name for n in b.outputs}) == len(b.outputs)
    for spec in tqdm(b.files, desc=f"{b.kind} {b.name}", unit="file", disable=not progress):
        spec = _pin_from_record(spec, recorded)
        if not force and _cached_ok(target, spec):
            continue
        digests: dict[str, str]
        if from_archive is not None:
            if not spec.extract:
                raise FetchError(f"{from_archive}: {spec.name} does not come from an archive; give a folder")
            if from_archive.name == spec.name:
                _verify(from_archive, spec.name, spec.sha256, str(from_archive), trust_unpinned, spec.integrity)
            _record_pins(target, _extract(from_archive, spec, target, trust_unpinned), spec)
            continue
        local = {n: _find_local(Path(from_dir), n, b.name, flat) for n in spec.outputs} if from_dir else {}
        if local and all(local.values()):
            pins = {m.name: m.sha256 for m in spec.extract} or {spec.name: spec.sha256}
            digests = {n: copy_verified(p, target / n, n, pins[n], trust_unpinned) for n, p in local.items() if p}
        elif spec.extract:
            archive = _find_local(Path(from_dir), spec.name, b.name) if from_dir else None  # a folder here
            with tempfile.TemporaryDirectory(dir=target) as tmp:
                if archive is None:
                    if from_dir:
                        raise FetchError(f"neither {spec.name} nor {', '.join(spec.outputs)} found in {from_dir}")
                    archive = download(_url(spec, b, mirror), Path(tmp) / spec.name, spec, progress=progress,
                                       trust_unpinned=trust_unpinned)
                else:
                    _verify(archive, spec.name, spec.sha256, str(archive), trust_unpinned, spec.integrity)
                digests = _extract(archive, spec, target, trust_unpinned)
        elif from_dir:
            raise FetchError(f"{spec.name} not found in {from_dir} (looked for {Path(from_dir) / spec.name})")
        else:
            download(_url(spec, b, mirror), target / spec.name, spec, progress=progress, trust_unpinned=trust_unpinned)
            digests = {spec.name: sha256_file(target / spec.name)}
        _record_pins(target, digests, spec)
    if b.kind == "character":
        from tha4_sdk.character import write_character

        pkg = b.package
        student = pkg.get("student") or {}
        write_character(target, name=b.name, image=pkg.get("image", "character.png"), face_mask=pkg.get("face_mask"),
                        face_morpher=student.get("face_morpher"), body_morpher=student.get("body_morpher"),
                        attribution=b.attribution, license=b.license)
    return target


def _url(spec: FileSpec, b: Bundle, mirror: str | None) -> str:
    return f"{mirror.rstrip('/')}/{b.name}/{spec.name}" if mirror else spec.url


def is_fetched(b: Bundle) -> bool:
    return all((b.target / n).is_file() for n in b.outputs)


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
