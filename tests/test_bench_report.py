"""Benchmarks name the CPU they ran on, with the features that decide its fast paths."""

from __future__ import annotations

from pathlib import Path

from tha4_sdk.bench.report import cpu_features, machine


def test_cpu_features_say_whether_the_cpu_has_amx() -> None:
    assert cpu_features({"avx2", "avx512f", "avx512_bf16", "avx512_vnni"}) == \
        "AVX-512, AVX512-BF16, AVX512-VNNI, no AMX"
    assert cpu_features({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}) == "AVX-512, AVX512-BF16, AMX-BF16"
    assert cpu_features({"avx2"}) == ""  # nothing to say (no AVX-512): no claim about AMX either


def test_machine_line_names_this_cpus_features() -> None:
    line = machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        flags = next(ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags")).split(":", 1)[1].split()
        features = cpu_features(set(flags))
        assert (f"({features})" in line) if features else "(" not in line.split(",")[0]
    assert " cores, torch " in line and line.endswith(" threads") or "; GPU " in line
