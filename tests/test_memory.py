"""`tha4_sdk.memory.retain_freed_memory`: freed blocks stay mapped, so a second large tensor reuses the first's
pages instead of faulting in fresh, zero-filled ones (counted as minor page faults, in a child process, over 20
tensors allocated and freed in turn: glibc's aligned blocks take a few rounds to settle into reused places)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

CHILD = textwrap.dedent("""
    import json, resource, sys, torch
    from tha4_sdk.memory import retain_freed_memory
    applied = retain_freed_memory() if sys.argv[1] == "retain" else False
    def faults_of_one_tensor():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = torch.empty(64 * 2**20 // 4).fill_(1.0)  # 64 MiB: above glibc's largest mmap threshold
        del t
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps({"applied": applied, "faults": sum(faults_of_one_tensor() for _ in range(20))}))
""")


def _faults(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_tensors_reuse_freed_pages() -> None:
    plain, kept = _faults("plain"), _faults("retain")
    pages = 64 * 2**20 // 4096
    assert kept["applied"] is True
    assert plain["faults"] >= 19 * pages, plain  # every tensor's pages mapped and zero-filled again
    assert kept["faults"] <= 10 * pages, kept    # measured: 7 tensors' worth, then every block is reused


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_cpu_tha3_session_turns_it_on(tmp_path) -> None:
    """A THA3 session on the CPU sets it for its process (checked in a child process)."""
    image = tmp_path / "character.png"
    picture = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    picture.paste((200, 120, 90, 255), (128, 64, 384, 512))
    picture.save(image)
    code = textwrap.dedent("""
        import sys, torch, tha4_sdk.memory as memory
        from tha4_sdk.character import Character
        from tha4_sdk.models.tha3.poser import Tha3Poser
        from tha4_sdk.render.tha3 import Tha3Session
        assert not memory.freed_memory_retained()
        Tha3Session(Character.from_image(sys.argv[1]), torch.device("cpu"), torch.float32, Tha3Poser())
        print(memory.freed_memory_retained())
    """)
    assert _child_sets_it(code, str(image))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_cpu_distillation_job_turns_it_on_for_the_plain_trainer_too(lambda_00, tmp_path) -> None:
    """Teacher calls before and beside the plain trainer keep freed memory (checked in a child process)."""
    code = textwrap.dedent("""
        import sys
        from pathlib import Path
        import tha4_sdk.memory as memory
        from tha4_sdk.distill.run import DistillConfig, distill
        from tha4_sdk.distill.progress import Progress
        assert not memory.freed_memory_retained()
        student = Path(sys.argv[1])
        distill(DistillConfig(image=student / "character.png", face_mask=student / "face_mask.png",
                              teacher=f"student:{student}", output=Path(sys.argv[2]), examples=2, batch_size=1,
                              eval_poses=1, device="cpu", trainer="plain"), progress=Progress(enabled=False))
        print(memory.freed_memory_retained())
    """)
    assert _child_sets_it(code, str(lambda_00), str(tmp_path / "out"))


def _child_sets_it(code: str, *args: str) -> bool:
    """Run ``code`` in a fresh interpreter; whether the last line it printed is ``True``."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1] == "True"
