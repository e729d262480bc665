"""Distillation jobs in the daemon, run by the real distiller (`python -m tha4_sdk.distill JOB.json`, lambda_00's
student as the teacher): queued one at a time, progress stored and published, cancelled with a checkpoint, and
resumed after the daemon was SIGKILLed; a time-budgeted job's ETA and PSNR, and bad budgets refused before any job
is queued. Plus the job table itself across reopenings (also one an older daemon wrote), and the job file."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from daemon_harness import DaemonProcess, daemon_thread, make_store

from tha4_sdk.character import write_character
from tha4_sdk.client import Client, DaemonError, Subscription
from tha4_sdk.daemon.jobs import distill_settings, eta_and_psnr
from tha4_sdk.daemon.jobstore import JobStore
from tha4_sdk.daemon.server import NAMED_TEACHERS
from tha4_sdk.distill.job import read_job, write_job
from tha4_sdk.distill.run import DistillConfig
from tha4_sdk.distill.schedule import OFFICIAL_EXAMPLES
from tha4_sdk.distill.teacher import THA3Teacher, THA4Teacher

TEACHER = "student:lambda_00"
EXAMPLES = 4000  # far more than a test waits for: every job here ends by cancellation
SPEC = {"character": "c", "output": "o", "examples": 10, "teacher": "tha4", "image": "i.png", "face_mask": "m.png",
        "teacher_arg": "tha4", "output_dir": "/x/o", "time_budget": None}
#: a budget this machine meets even when shared (the job measures, renders a small teacher cache, then trains)
BUDGET_S = 240.0


def test_the_job_table_survives_reopening(tmp_path: Path):
    store = JobStore(tmp_path / "jobs.sqlite")
    first, second = store.add(SPEC), store.add({**SPEC, "output": "p"})
    assert (first["state"], first["queue_position"], second["queue_position"]) == ("queued", 0, 1)
    store.update(first["job"], state="running", pid=4242, attempts=1, progress={"event": "progress", "examples": 8})
    store.close()
    again = JobStore(tmp_path / "jobs.sqlite")
    assert again.interrupted() == [(first["job"], "running", 4242)]
    info = again.get(first["job"])
    assert info["progress"] == {"event": "progress", "examples": 8} and info["attempts"] == 1
    assert again.next_queued()["job"] == second["job"] and again.get(second["job"])["queue_position"] == 0
    assert again.output_in_use("o") and again.output_in_use("p") and not again.output_in_use("q")
    assert [j["job"] for j in again.list()] == [first["job"], second["job"]]


def test_a_job_table_of_an_older_daemon_gains_the_new_columns(tmp_path: Path):
    """A 1.2 daemon's table (no ETA, no PSNR, specs without a time budget) opens and reads as JOB-INFO."""
    path = tmp_path / "jobs.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL, spec TEXT NOT "
                "NULL, progress TEXT, error TEXT, output TEXT, created REAL NOT NULL, started REAL, finished REAL, "
                "attempts INTEGER NOT NULL DEFAULT 0, pid INTEGER)")
    spec = {k: v for k, v in SPEC.items() if k != "time_budget"}
    old.execute("INSERT INTO jobs (id, seq, state, spec, created) VALUES ('j00000001', 1, 'queued', ?, 1.0)",
                (json.dumps(spec),))
    old.commit()
    old.close()
    store = JobStore(path)
    info = store.get("j00000001")
    assert (info["time_budget"], info["eta_s"], info["psnr"]) == (None, None, None)
    store.update("j00000001", state="running", ends_at=time.time() + 60, psnr={"phase": "face", "psnr_db": 30.5})
    info = store.get("j00000001")
    assert 58 < info["eta_s"] <= 60 and info["psnr"] == {"phase": "face", "psnr_db": 30.5}


def test_job_info_reads_the_eta_and_the_latest_psnr_off_the_distillers_records():
    t = 1_700_000_000.0
    assert eta_and_psnr([{"event": "start", "t": t}]) == {}
    plain = [{"event": "progress", "t": t, "phase": "face", "eta_s": None},
             {"event": "eval", "t": t + 1, "phase": "face", "examples": 8, "psnr_db": 21.5, "poses": 4},
             {"event": "progress", "t": t + 2, "phase": "body", "eta_s": 30.0}]
    assert eta_and_psnr(plain) == {"ends_at": t + 32, "psnr": {"phase": "face", "psnr_db": 21.5}}
    budgeted = [{"event": "progress", "t": t, "phase": "face", "eta_s": 10.0, "job_eta_s": 100.0},
                {"event": "done", "t": t + 5, "psnr": {"face": 30.0, "body": 25.0, "full": 24.5}}]
    assert eta_and_psnr(budgeted) == {"ends_at": t + 100, "psnr": {"phase": "full", "psnr_db": 24.5}}


def test_the_distillers_job_file(tmp_path: Path):
    job = write_job(tmp_path / "job.json", **distill_settings(SPEC))
    assert read_job(job) == DistillConfig(image=Path("i.png"), face_mask=Path("m.png"), teacher="tha4",
                                          output=Path("/x/o"), examples=10)
    job = write_job(tmp_path / "job.json", **distill_settings({**SPEC, "examples": None}))
    assert sum(read_job(job).trained()) == OFFICIAL_EXAMPLES  # no examples: the official recipe
    job = write_job(tmp_path / "job.json", **distill_settings({**SPEC, "examples": None, "time_budget": 1800.0}))
    assert read_job(job).time_budget_s == 1800.0 and read_job(job).examples is None


def test_the_distiller_reports_a_bad_job_file_as_an_error_record(tmp_path: Path, lambda_00: Path):
    job = write_job(tmp_path / "job.json", image=str(lambda_00 / "character.png"), face_mask="m.png",
                    teacher="tha4", output=str(tmp_path / "o"), epochs=3)
    run = subprocess.run([sys.executable, "-m", "tha4_sdk.distill", str(job)], capture_output=True, text=True)
    [record] = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 1 and record["event"] == "error" and "unknown job settings epochs" in record["message"]
    old_style = subprocess.run([sys.executable, "-m", "tha4_sdk.distill", "i.png", "--face-mask", "m.png"],
                               capture_output=True, text=True)
    assert old_style.returncode == 2 and "`tha4 distill`" in old_style.stderr


def wait_event(sub: Subscription, job_id: str, kind: str, until=lambda job: True, timeout: float = 300.0) -> dict:
    """The JOB-INFO of the next ``job.KIND`` event of ``job_id`` that satisfies ``until``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        envelope, _ = sub.receive(timeout=max(1.0, deadline - time.monotonic()))
        job = envelope["data"].get("job", {})
        if envelope["event"] == f"job.{kind}" and job.get("job") == job_id and until(job):
            return job
    raise AssertionError(f"no job.{kind} event for {job_id} within {timeout} s")


@contextlib.contextmanager
def watched_daemon(store: Path, state: Path) -> Iterator[tuple[Client, Subscription]]:
    """A real daemon over ``store``, a client, and a subscription to its job events (already connected)."""
    with DaemonProcess(store, state) as daemon, daemon.client(timeout=20) as client, \
            client.subscribe("event.job.") as sub:
        time.sleep(0.3)  # the subscription reaches the daemon before the first job starts
        yield client, sub


def trained(job: dict[str, Any]) -> bool:
    progress = job["progress"] or {}
    return progress.get("event") == "progress" and progress.get("examples", 0) > 0


@pytest.fixture
def store(tmp_path: Path, lambda_00: Path) -> Path:
    return make_store(tmp_path / "store", lambda_00)


def test_the_daemon_takes_every_teacher_tha4_distill_names(store: Path, tmp_path: Path):
    """One vocabulary: each named teacher of the distiller starts a job through the daemon (then cancelled)."""
    assert set(NAMED_TEACHERS) == {THA4Teacher.name, THA3Teacher.name}
    with DaemonProcess(store, tmp_path / "state") as daemon, daemon.client(timeout=20) as client:
        for teacher in NAMED_TEACHERS:
            job = client.distill("lambda_00", f"by_{teacher}", examples=EXAMPLES, teacher=teacher)
            assert job["teacher"] == teacher and job["state"] in ("queued", "running"), job
            assert client.cancel(job["job"])["state"] in ("cancelling", "cancelled")


def test_a_character_without_a_face_mask_is_distilled_with_one_read_off_the_teacher(tmp_path: Path, lambda_00: Path):
    """The job file of a character that has no face mask leaves the mask to the distiller (`face_mask_for`)."""
    store = make_store(tmp_path / "store", lambda_00)  # lambda_00 teaches
    plain = store / "plain"
    plain.mkdir()
    shutil.copy(lambda_00 / "character.png", plain / "character.png")
    write_character(plain, name="plain")
    with DaemonProcess(store, tmp_path / "state") as daemon, daemon.client(timeout=20) as client:
        job = client.distill("plain", "plain_student", examples=EXAMPLES, teacher=TEACHER)
        client.cancel(job["job"])
    [job_file] = (tmp_path / "state").rglob("job.json")
    config = read_job(job_file)
    assert config.face_mask is None and config.image == (plain / "character.png").resolve()


def test_bad_budgets_are_refused_before_any_job_is_queued(store: Path, tmp_path: Path):
    with daemon_thread(characters=store, state_dir=tmp_path / "state") as daemon, \
            Client(port=daemon.control_port, timeout=20) as client:
        for budget, examples, said in [(600, 1000, "takes time_budget or examples, not both"),
                                       (0, None, "must be a positive number of seconds, got 0"),
                                       (-60.0, None, "must be a positive number of seconds, got -60"),
                                       (30, None, "30 s is too short: give at least 60 s"),
                                       (1e9, None, "must be at most 2592000 s, got 1e+09"),
                                       ("30m", None, "must be a finite number of seconds, got str '30m'")]:
            with pytest.raises(DaemonError, match=re.escape(said)) as refused:
                client.request("distill.start", {"character": "lambda_00", "output": "budgeted", "teacher": TEACHER,
                                                 "time_budget": budget, **({"examples": examples} if examples else {})})
            assert refused.value.code == "bad_args" and refused.value.data["field"] == "time_budget"
        assert client.jobs() == []
        assert not (store / "budgeted").exists()


@pytest.mark.slow
def test_a_budgeted_job_reports_the_whole_jobs_eta(store: Path, tmp_path: Path):
    """After measuring, a budgeted job's ETA is the whole job's (beyond its face morpher's) and counts down."""
    with watched_daemon(store, tmp_path / "state") as (client, sub):
        job = client.distill("lambda_00", "lam_budget", teacher=TEACHER, time_budget=BUDGET_S)
        assert (job["time_budget"], job["examples"], job["eta_s"], job["psnr"]) == (BUDGET_S, None, None, None)
        timed = wait_event(sub, job["job"], "progress", lambda j: j["eta_s"] is not None)
        progress = timed["progress"]
        assert progress["budget_s"] == BUDGET_S and progress["phase"] == "face"  # the plan, then the face morpher
        assert progress["eta_s"] < timed["eta_s"] <= progress["job_eta_s"] < BUDGET_S
        time.sleep(1.0)
        assert client.job(job["job"])["eta_s"] < timed["eta_s"]
        client.cancel(job["job"])
        finished = wait_event(sub, job["job"], "finished")
        assert finished["state"] == "cancelled" and finished["eta_s"] is None


@pytest.mark.slow
def test_a_job_reports_each_evaluations_psnr(store: Path, tmp_path: Path):
    """The face morpher's PSNR reaches JOB-INFO when it is evaluated, the full image's when the job is done."""
    with watched_daemon(store, tmp_path / "state") as (client, sub):
        job = client.distill("lambda_00", "lam_small", examples=10, teacher=TEACHER)
        scored = wait_event(sub, job["job"], "progress", lambda j: j["psnr"] is not None)
        assert scored["psnr"]["phase"] == "face" and 0 < scored["psnr"]["psnr_db"] < 60  # from scratch: about 2 dB
        assert scored["psnr"]["psnr_db"] == scored["progress"]["psnr_db"]
        done = wait_event(sub, job["job"], "finished")
        assert done["state"] == "done" and done["eta_s"] is None
        assert done["psnr"]["phase"] == "full" and 0 < done["psnr"]["psnr_db"] < 60


@pytest.mark.slow
def test_jobs_queue_progress_and_cancel(store: Path, tmp_path: Path):
    with watched_daemon(store, tmp_path / "state") as (client, sub):
        first = client.distill("lambda_00", "lam_a", examples=EXAMPLES, teacher=TEACHER)
        second = client.distill("lambda_00", "lam_b", examples=EXAMPLES, teacher=TEACHER)
        assert first["state"] == "queued" and first["teacher"] == TEACHER and first["examples"] == EXAMPLES
        for args, code in [({"output": "lam_a"}, "conflict"), ({"output": "lambda_00"}, "conflict"),
                           ({"output": "x", "teacher": "student:nobody"}, "not_found"),
                           ({"output": "x", "teacher": "gpt"}, "bad_args"),
                           ({"output": "x", "character": "/etc"}, "forbidden")]:
            with pytest.raises(DaemonError) as err:
                client.request("distill.start", {"character": "lambda_00", **args})
            assert err.value.code == code, err.value

        running = wait_event(sub, first["job"], "progress", trained)
        assert running["state"] == "running" and running["attempts"] == 1
        assert running["progress"]["phase"] == "face" and running["progress"]["total"] > 0
        waiting = client.job(second["job"])
        assert waiting["state"] == "queued" and waiting["queue_position"] == 0  # one job at a time
        assert client.cancel(second["job"])["state"] == "cancelled"

        assert client.cancel(first["job"])["state"] in ("cancelling", "cancelled")
        done = wait_event(sub, first["job"], "finished")
        assert done["state"] == "cancelled" and done["progress"]["event"] == "stopped"
        assert Path(done["progress"]["checkpoint"]).is_file()  # the distiller saved its state
        with pytest.raises(DaemonError) as err:
            client.cancel(first["job"])
        assert err.value.code == "conflict"
        assert [j["state"] for j in client.jobs()] == ["cancelled", "cancelled"]


@pytest.mark.slow
def test_a_job_resumes_after_the_daemon_is_killed(store: Path, tmp_path: Path):
    state = tmp_path / "state"
    daemon = DaemonProcess(store, state)
    with daemon.client(timeout=20) as client, client.subscribe("event.job.") as sub:
        time.sleep(0.3)
        job = client.distill("lambda_00", "lam_r", examples=EXAMPLES, teacher=TEACHER)
        before = wait_event(sub, job["job"], "progress", trained)
    daemon.signal(signal.SIGKILL)
    daemon.wait()
    progress_file = state / "jobs" / job["job"] / "progress.jsonl"
    deadline = time.monotonic() + 300
    while not progress_file.read_text().rstrip().endswith("}") or \
            json.loads(progress_file.read_text().splitlines()[-1])["event"] != "stopped":
        assert time.monotonic() < deadline, "the orphaned distiller did not checkpoint and stop"
        time.sleep(0.5)

    with DaemonProcess(store, state) as again, Client(port=again.port, timeout=20) as client, \
            client.subscribe("event.job.") as sub:
        time.sleep(0.3)
        resumed = client.job(job["job"])
        assert resumed["state"] in ("queued", "running")
        after = wait_event(sub, job["job"], "progress", lambda j: j["attempts"] == 2 and trained(j))
        assert after["progress"]["resumed"] is not None  # the distiller continued from its checkpoint
        assert after["progress"]["phase"] == before["progress"]["phase"] == "face"
        assert after["progress"]["examples"] >= before["progress"]["examples"]
        client.cancel(job["job"])
        assert wait_event(sub, job["job"], "finished")["state"] == "cancelled"
