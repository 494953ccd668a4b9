"""Choose the torch device and dtype for in-process models."""

from __future__ import annotations

from core.errors import ConfigError


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


def preferred_dtype(device: str):
    """bfloat16 on CUDA GPUs that support it, float16 on other GPUs, float32 on CPU."""
    import torch

    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32
