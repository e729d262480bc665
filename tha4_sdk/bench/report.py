"""Benchmark reporting: machine description and in-place sections of docs/benchmarks.md."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

import torch


#: the x86 features that decide which fast paths a CPU has (the /proc/cpuinfo flag and how the line names it)
MATRIX_FEATURES = (("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"), ("avx512_vnni", "AVX512-VNNI"),
                   ("amx_bf16", "AMX-BF16"))


def cpu_features(flags: set[str]) -> str:
    """The `MATRIX_FEATURES` a CPU has, and says so when it has no AMX (``"AVX-512, AVX512-BF16, no AMX"``)."""
    named = [name for flag, name in MATRIX_FEATURES if flag in flags]
    if named and "amx_bf16" not in flags:
        named.append("no AMX")
    return ", ".join(named)


def machine() -> str:
    """A one-line description of the machine a benchmark ran on: CPU model and features, cores, torch, threads."""
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not flags:
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    features = cpu_features(flags)
    parts = [f"{cpu}{f' ({features})' if features else ''}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads"]
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    return "; ".join(parts)


def write_section(path: str | Path, key: str, title: str, body: str) -> Path:
    """Replace (or append) the section ``key`` of a Markdown benchmarks file, stamped with machine and date."""
    path = Path(path)
    begin, end = f"<!-- bench:{key}:begin -->", f"<!-- bench:{key}:end -->"
    stamp = f"_{_dt.date.today().isoformat()} — {machine()}_"
    block = f"{begin}\n## {title}\n\n{stamp}\n\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\nWritten by `tha4 bench …`.\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
