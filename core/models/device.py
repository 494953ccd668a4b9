"""Choose the torch device and dtype for in-process models."""

from __future__ import annotations

import threading

from core.errors import ConfigError

# In-process models load one at a time, whichever thread or pipeline asks: two transformers loads at once in one
# process mixed float32 and bfloat16 weights in one model (torch's default dtype is process-wide).
MODEL_LOADING = threading.RLock()


def resolve_device(setting: str) -> str:
    """The device named by POLYDESK_DEVICE, with `auto` picking CUDA, then MPS, then CPU."""
    import torch

    if setting == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise ConfigError("POLYDESK_DEVICE=cuda but torch sees no CUDA GPU: set POLYDESK_DEVICE=auto or cpu.")
    if setting == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("POLYDESK_DEVICE=mps but MPS is not available: set POLYDESK_DEVICE=auto or cpu.")
    return setting


CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU flags (from /proc/cpuinfo unless given) include native bfloat16 (AVX512-BF16 or AMX)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                cpuinfo = handle.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def preferred_dtype(device: str, cpu_profile: bool = True, cpuinfo: str | None = None):
    """bfloat16 on CUDA GPUs that support it, float16 on other GPUs; on CPU bfloat16 with the CPU profile on
    and native bf16 support, float32 otherwise."""
    import torch

    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    if cpu_profile and cpu_has_native_bf16(cpuinfo):
        return torch.bfloat16
    return torch.float32
