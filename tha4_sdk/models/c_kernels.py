"""The C kernels of the CPU fast paths, built for this CPU on first use: the C files beside the modules that
use them.

A C file is compiled once with the system C compiler (``$CC``, ``cc``, ``gcc`` or ``clang``) into
``$THA4_HOME/kernels/`` under a name that hashes the source, the flags, the compiler and the CPU, and loaded
with ctypes. Matrix products go through the ``sgemm`` that PyTorch's own CPU library exports (MKL in the
x86-64 wheels). Where either is missing, or with ``THA4_NATIVE=0``, `load_kernels` returns None and the
caller runs the same arithmetic as PyTorch ops.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from tha4_sdk.files import atomic_path

FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-shared", "-fPIC")


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def cpu_identity() -> str:
    """What ``-march=native`` depends on: the CPU model and its feature flags."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({ln for ln in lines if ln.startswith(("model name", "flags", "Features"))}))
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def build(source: Path, cc: str, folder: Path) -> Path:
    """Compile ``source`` into ``folder`` (atomically; reused when already there); the library's path."""
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256("\0".join([source.read_text(), " ".join(FLAGS), cc, version,
                                    cpu_identity()]).encode()).hexdigest()[:16]
    target = folder / f"{source.stem}-{key}.so"
    if not target.exists():
        with atomic_path(target) as tmp:
            subprocess.run([cc, *FLAGS, "-o", str(tmp), str(source), "-lm"], capture_output=True, text=True,
                           check=True)
    return target


def torch_blas() -> tuple[int, ctypes._CFuncPtr | None] | None:
    """The address of the ``sgemm`` exported by PyTorch's CPU library, and MKL's thread-local thread setter."""
    path = Path(torch.__file__).parent / "lib" / ("libtorch_cpu.dylib" if platform.system() == "Darwin"
                                                   else "libtorch_cpu.so")
    try:
        lib = ctypes.CDLL(str(path))
        sgemm = ctypes.cast(lib.sgemm, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None
    setter = getattr(lib, "MKL_Set_Num_Threads_Local", None)  # by value (the lower-case name is Fortran)
    if setter is not None:
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
    return (sgemm, setter) if sgemm else None


@dataclass(frozen=True)
class Kernels:
    """A loaded kernel library, PyTorch's ``sgemm`` (an address to pass in) and MKL's thread-local setter."""

    library: ctypes.CDLL
    sgemm: int
    set_local_threads: ctypes._CFuncPtr | None


def load_kernels(source: Path, purpose: str) -> Kernels | None:
    """``source`` built for this CPU and loaded; None (with one warning naming ``purpose``) where it cannot be.
    Callers keep the result (each process builds or loads a library once)."""
    if os.environ.get("THA4_NATIVE", "1") == "0":
        return None
    cc, blas = compiler(), torch_blas()
    if cc is None or blas is None:
        return None
    from tha4_sdk.hub import home

    try:
        return Kernels(ctypes.CDLL(str(build(source, cc, home() / "kernels"))), *blas)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        warnings.warn(f"{purpose} could not be built with {cc} ({detail}); using PyTorch ops instead (slower, "
                      "same results)", RuntimeWarning, stacklevel=2)
        return None
