"""CPU profile: native bfloat16 detection and its fall back to float32."""

import torch

from core.models.device import cpu_has_native_bf16, preferred_dtype

WITH_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n"
WITHOUT_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2\n"


def test_detection_reads_flags():
    assert cpu_has_native_bf16(WITH_BF16)
    assert not cpu_has_native_bf16(WITHOUT_BF16)
    assert not cpu_has_native_bf16("")


def test_cpu_dtype_falls_back_to_float32_without_native_bf16():
    assert preferred_dtype("cpu", cpu_profile=True, cpuinfo=WITHOUT_BF16) == torch.float32


def test_cpu_dtype_is_bfloat16_with_profile_on_and_native_support():
    assert preferred_dtype("cpu", cpu_profile=True, cpuinfo=WITH_BF16) == torch.bfloat16


def test_profile_off_keeps_float32():
    assert preferred_dtype("cpu", cpu_profile=False, cpuinfo=WITH_BF16) == torch.float32
