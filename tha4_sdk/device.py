"""Device and dtype selection: ``auto`` picks CUDA when present, else CPU."""

from __future__ import annotations

import torch

from tha4_sdk.errors import Tha4Error

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float64": torch.float64, "fp64": torch.float64,
          "float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
#: the precisions a renderer can compute every operation in (the others run under autocast)
FULL_PRECISION = (torch.float32, torch.float64)


class DeviceError(Tha4Error, RuntimeError):
    """A device or dtype name that cannot be used on this machine."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → ``cuda`` if available else ``cpu``; explicit CUDA without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise DeviceError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} requested but PyTorch sees no CUDA GPU; use device='cpu'")
    return dev


def resolve_dtype(dtype: str | torch.dtype = "float32") -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[dtype]
    except KeyError:
        raise DeviceError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}") from None


def precision_autocast(device: torch.device, dtype: torch.dtype) -> "torch.autocast":
    """fp16/bf16: autocast (weights stay float32, warps run in float32); float32 and float64: every operation
    in that dtype, no autocast."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype not in FULL_PRECISION)
