"""Fetching characters: official pinned URLs, local HTTP mirror, SHA-256 checks, atomic cache, offline folders."""

import shutil

import pytest

from tha4_sdk import hub
from tha4_sdk.character import load_character
from tha4_sdk.hub import FetchError

OFFICIAL = "https://raw.githubusercontent.com/pkhungurn/talking-head-anime-4-demo/320640116abd604de22d7b56faec85b4d95770e0/"


def test_manifests_pin_official_files_and_match_reference(reference):
    chars = hub.bundles("character")
    assert {"lambda_00", "lambda_01"} <= set(chars)
    for name in ("lambda_00", "lambda_01"):
        b = chars[name]
        assert b.license == "CC-BY-NC-4.0" and "garun" in b.attribution
        for f in b.files:
            assert f.url.startswith(OFFICIAL), f.url
            ref = reference / "characters" / name / f.name
            assert hub.sha256_file(ref) == f.sha256 and ref.stat().st_size == f.size


def test_fetch_from_local_mirror_then_cache_hit(reference, http_server):
    url = http_server(reference / "characters")
    b = hub.bundle("lambda_00", "character")
    target = hub.fetch(b, mirror=url, progress=False)
    assert target == hub.home() / "characters" / "lambda_00"
    ch = load_character(target)
    assert ch.has_student and ch.license == "CC-BY-NC-4.0"
    assert load_character(target / "character_model.yaml").body_morpher_path == ch.body_morpher_path
    served = list(http_server.servers[0].requests)
    assert sorted(served) == sorted(f"/lambda_00/{f.name}" for f in b.files)
    hub.fetch(b, mirror=url, progress=False)
    assert http_server.servers[0].requests == served, "a verified cache must not be downloaded again"
    assert not list(target.glob(".*.part"))


def test_tampered_download_is_rejected_and_nothing_is_left(reference, tmp_path, http_server):
    mirror = tmp_path / "mirror"
    shutil.copytree(reference / "characters" / "lambda_01", mirror / "lambda_01")
    data = bytearray((mirror / "lambda_01" / "body_morpher.pt").read_bytes())
    data[-100] ^= 0xFF
    (mirror / "lambda_01" / "body_morpher.pt").write_bytes(bytes(data))
    b = hub.bundle("lambda_01", "character")
    with pytest.raises(FetchError, match="body_morpher.pt from http://127.0.0.1:.*does not match the pinned"):
        hub.fetch(b, mirror=http_server(mirror), progress=False)
    assert not (b.target / "body_morpher.pt").exists()
    assert not list(b.target.glob(".*")), "no temporary files may remain"


def test_damaged_cached_copy_is_fetched_again(reference, http_server):
    b = hub.bundle("lambda_00", "character")
    url = http_server(reference / "characters")
    hub.fetch(b, mirror=url, progress=False)
    (b.target / "face_morpher.pt").write_bytes(b"garbage")
    hub.fetch(b, mirror=url, progress=False)
    assert hub.sha256_file(b.target / "face_morpher.pt") == b.files[2].sha256


def test_offline_from_folder_and_missing_file(reference, tmp_path):
    b = hub.bundle("lambda_01", "character")
    assert hub.fetch(b, from_dir=reference / "characters", progress=False) == b.target
    assert hub.is_fetched(b)
    with pytest.raises(FetchError, match="character.png not found in"):
        hub.fetch(hub.bundle("lambda_00", "character"), from_dir=tmp_path, progress=False)


def test_unreachable_server_gives_a_clear_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="could not download character.png .* from_dir=DIR"):
        hub.fetch(hub.bundle("lambda_00", "character"), mirror=f"http://127.0.0.1:{port}", progress=False)


def test_resolve_character_by_name_path_and_image(reference, lambda_00):
    from tha4_sdk.character import CharacterError

    with pytest.raises(CharacterError, match="not fetched yet: run `tha4 characters fetch lambda_00`"):
        hub.resolve_character("lambda_00")
    with pytest.raises(CharacterError, match="neither a character folder"):
        hub.resolve_character("nobody")
    assert hub.resolve_character(str(lambda_00)).has_student
    assert not hub.resolve_character(str(lambda_00 / "character.png")).has_student
    hub.fetch(hub.bundle("lambda_00", "character"), from_dir=reference / "characters", progress=False)
    assert hub.resolve_character("lambda_00").name == "lambda_00"


def archive_bundle(tmp_path, reference, pinned=True):
    """A model-style manifest whose files come out of a zip archive (built here from real weight files)."""
    import zipfile

    src = reference / "characters" / "lambda_00"
    served = tmp_path / "served" / "demo_models"
    served.mkdir(parents=True)
    with zipfile.ZipFile(served / "models.zip", "w") as zf:
        for f in ("face_morpher.pt", "body_morpher.pt"):
            zf.write(src / f, f"tha4/{f}")
    pins = {f: hub.sha256_file(src / f) if pinned else None for f in ("face_morpher.pt", "body_morpher.pt")}
    zpin = hub.sha256_file(served / "models.zip") if pinned else None
    manifest = tmp_path / "sources.yaml"
    manifest.write_text(
        "name: demo_models\nkind: model\nfiles:\n  models.zip:\n    url: https://example.invalid/models.zip\n"
        f"    sha256: {zpin or 'null'}\n    extract:\n"
        + "".join(f"      {f}: {{member: tha4/{f}, sha256: {p or 'null'}}}\n" for f, p in pins.items()))
    return hub.load_bundle(manifest), served.parent


def test_archive_is_downloaded_extracted_verified_and_removed(tmp_path, reference, http_server):
    b, served = archive_bundle(tmp_path, reference)
    target = hub.fetch(b, mirror=http_server(served), progress=False)
    assert sorted(p.name for p in target.iterdir()) == ["body_morpher.pt", "face_morpher.pt"]
    assert hub.is_fetched(b)
    offline = hub.fetch(b, from_dir=reference / "characters" / "lambda_00", force=True, progress=False)
    assert (offline / "face_morpher.pt").is_file()


def test_unpinned_files_need_explicit_trust_and_are_recorded(tmp_path, reference, http_server):
    b, served = archive_bundle(tmp_path, reference, pinned=False)
    url = http_server(served)
    with pytest.raises(FetchError, match="no published SHA-256 .* trust_unpinned=True"):
        hub.fetch(b, mirror=url, progress=False)
    assert not hub.is_fetched(b)
    target = hub.fetch(b, mirror=url, progress=False, trust_unpinned=True)
    pins = hub.read_pins(target)
    assert pins["face_morpher.pt"] == hub.sha256_file(reference / "characters" / "lambda_00" / "face_morpher.pt")
    (target / "face_morpher.pt").write_bytes(b"tampered")
    hub.fetch(b, mirror=url, progress=False, trust_unpinned=True)
    assert hub.sha256_file(target / "face_morpher.pt") == pins["face_morpher.pt"], "recorded pins catch tampering"


def test_recorded_pins_refuse_a_changed_upstream_file(tmp_path, reference, http_server):
    b, served = archive_bundle(tmp_path, reference, pinned=False)
    url = http_server(served)
    target = hub.fetch(b, mirror=url, progress=False, trust_unpinned=True)
    (target / "body_morpher.pt").unlink()
    import zipfile

    with zipfile.ZipFile(served / "demo_models" / "models.zip", "w") as zf:
        zf.write(reference / "characters" / "lambda_01" / "face_morpher.pt", "tha4/face_morpher.pt")
        zf.write(reference / "characters" / "lambda_01" / "body_morpher.pt", "tha4/body_morpher.pt")
    with pytest.raises(FetchError, match="does not match the pinned"):
        hub.fetch(b, mirror=url, progress=False, trust_unpinned=True)
