"""The daemon's ``character.create`` (protocol 1.2): a real daemon makes a character from a sample picture moved
off THA's template, publishing its progress in order; bad requests are refused with the field named; a creation
that cannot finish says why in ``character.failed`` and leaves no folder behind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import yaml
from daemon_harness import daemon_thread
from PIL import Image
from test_new_character import WHITE, moved
from tha3_oracle import data_dir

from tha4_sdk import hub
from tha4_sdk.character import load_character, load_face_mask
from tha4_sdk.client import Client, DaemonError
from tha4_sdk.daemon.server import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon whose store is ``tmp_path/store`` and that may also write under ``tmp_path/allowed``."""
    (tmp_path / "allowed").mkdir()
    with daemon_thread(characters=tmp_path / "store", state_dir=tmp_path / "state",
                       allow_roots=(tmp_path / "allowed",)) as d:
        yield d


@pytest.fixture
def picture(lambda_00: Path, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """lambda_00 scaled to 0.8, off-centre on a larger white canvas; and its head box moved the same way."""
    path, box, _ = moved(lambda_00 / "character.png", 0.8, (90, 20), (200, 60), WHITE, tmp_path / "me.png")
    return path, box


def refused(client: Client, **args: object) -> DaemonError:
    with pytest.raises(DaemonError) as err:
        client.request("character.create", args)
    return err.value


def test_bad_requests_are_refused_naming_the_field(daemon: Daemon, picture: tuple[Path, np.ndarray],
                                                   tmp_path: Path) -> None:
    image = str(picture[0])
    (tmp_path / "notes.png").write_text("not a picture")
    Image.new("RGB", (300, 300), WHITE).save(tmp_path / "blank.png")
    (tmp_path / "store" / "taken").mkdir(parents=True)
    (tmp_path / "store" / "taken" / "character.png").write_bytes(b"")
    with Client(port=daemon.control_port, timeout=30) as client:
        for args, code, field, said in [
            ({"image": "me.png", "output": "me"}, "bad_args", "image", "not an absolute path"),
            ({"image": str(tmp_path / "nothing.png"), "output": "me"}, "not_found", "image", "no such file"),
            ({"image": str(tmp_path / "notes.png"), "output": "me"}, "bad_args", "image", "not an image"),
            ({"image": str(tmp_path / "blank.png"), "output": "me"}, "bad_args", "image", "no figure found"),
            ({"image": image, "output": "me", "head": [10, 10, 8]}, "bad_args", "head", "too small"),
            ({"image": image, "output": "me", "head": [600, 10, 100]}, "bad_args", "head", "not inside"),
            ({"image": image, "output": "me", "head": [1, 2]}, "bad_args", "head", r"\[x, y, size\]"),
            ({"image": image, "output": "me", "teacher": "tha3:/tmp"}, "bad_args", "teacher", "must be one of"),
            ({"image": image, "output": "taken"}, "conflict", None, "already exists"),
            ({"image": image, "output": str(tmp_path / "elsewhere")}, "forbidden", None, "allowed roots"),
            ({"image": image, "output": "../escape"}, "forbidden", None, "absolute folder path"),
        ]:
            error = refused(client, **args)
            assert (error.code, error.data.get("field")) == (code, field), (args, error)
            assert error.message.count("\n") == 0 and re.search(said, error.message), error.message
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["taken"]


def test_a_creation_without_teacher_weights_fails_in_an_event_and_leaves_nothing(
        daemon: Daemon, picture: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    """This test's THA4_HOME has no THA3 weights: the picture is accepted, the teacher cannot start."""
    output = tmp_path / "allowed" / "me"
    with Client(port=daemon.control_port, timeout=60) as client:
        with pytest.raises(DaemonError) as err:
            client.create_character(picture[0], output, timeout=120)
    assert err.value.code == "load_failed" and "tha4 models fetch tha3" in err.value.message
    assert list((tmp_path / "allowed").iterdir()) == []


def fetch_tha3() -> None:
    """THA3's weights into this test's THA4_HOME (the default teacher of `character.create`)."""
    hub.fetch(hub.bundle("tha3", "model"), from_dir=data_dir() / "models" / "separable_float", progress=False)


@pytest.mark.slow
def test_a_daemon_stopped_mid_creation_leaves_no_folder(picture: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    fetch_tha3()
    with daemon_thread(characters=tmp_path / "store", state_dir=tmp_path / "state") as daemon, \
            Client(port=daemon.control_port, timeout=60) as client, \
            client.subscribe("event.character.", "event.heartbeat") as events:
        events.receive()  # a heartbeat: the subscription is in place
        creation = client.create_character(picture[0], "me", wait=False)["creation"]
        while (envelope := events.receive()[0])["event"] == "heartbeat":
            pass
        data = envelope["data"]
        assert (envelope["event"], data["creation"], data["stage"], data["done"]) == \
               ("character.progress", creation, "face mask", 0)
    # the daemon stopped while the teacher read the face mask
    assert list((tmp_path / "store").iterdir()) == []  # neither me/ nor its temporary folder


@pytest.mark.slow
def test_a_real_daemon_creates_a_character_from_a_moved_picture(daemon: Daemon, picture: tuple[Path, np.ndarray],
                                                                tmp_path: Path) -> None:
    fetch_tha3()
    image, box = picture
    steps: list[tuple[str, int, int]] = []
    busy: list[DaemonError] = []

    def progress(stage: str, done: int, total: int) -> None:
        steps.append((stage, done, total))
        if len(steps) == 1:  # one creation at a time
            with Client(port=daemon.control_port, timeout=30) as other:
                busy.append(refused(other, image=str(image), output="another"))

    with Client(port=daemon.control_port, timeout=60) as client:
        created = client.create_character(image, "me", license="CC-BY-4.0", attribution="a test",
                                          progress=progress)
        folder = tmp_path / "store" / "me"
        assert created["character"] == "me" and created["folder"] == str(folder.resolve())
        assert created["head_found"] and np.abs(np.array(created["head_box"]) - box).max() <= 0.1 * box[2]
        total = steps[0][2]
        assert steps == [("face mask", 0, total), ("face mask", 1, total),
                         *(("preview", done, total) for done in range(2, total + 1))]
        assert busy[0].code == "busy"
        assert sorted(p.name for p in folder.iterdir()) == ["character.png", "character.yaml", "face_mask.png",
                                                            "preview.png"]
        data = yaml.safe_load((folder / "character.yaml").read_text())
        assert data["head_box"] == created["head_box"] and data["source_image"] == str(image.resolve())
        character = load_character(folder)
        assert (character.name, character.license, character.attribution) == ("me", "CC-BY-4.0", "a test")
        assert load_face_mask(folder / "face_mask.png").sum() > 50
        assert [c["name"] for c in client.characters()] == ["me"]
        handle = client.load(created["character"], renderer="tha3")
        handle.set_pose(mouth_aaa=1.0)
        assert handle.render().to_numpy()[..., 3].mean() > 20
        again = refused(client, image=str(image), output="me")
        assert again.code == "conflict"
