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
    with pytest.raises(FetchError, match="could not download character.png .* use --from DIR"):
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
