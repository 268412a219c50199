"""FlashAttention-4 (the ``flash_attn.cute`` package: CuTe DSL kernels for Hopper and Blackwell GPUs) as
GS-LRM's attention kernel, where it is installed (``pip install flash-attn-4``; the same module ships
as ``tokenspeed-fa4``). torch's own kernels for GS-LRM's head dimension 64 run at ~37% of an H200's
bf16 peak (cuDNN; FlashAttention-2 slower), attention being ~40% of the paper step; FlashAttention-3/4
are the kernels written for Hopper's tensor cores."""

from __future__ import annotations

from typing import Optional

import torch

INSTALL = "pip install flash-attn-4 (or tokenspeed-fa4), on a Hopper (sm90) or newer GPU"


def fa4_unavailable(device: torch.device) -> Optional[str]:
    """Why FlashAttention-4 cannot run on ``device`` (a CUDA device), or None if it can."""
    try:
        import flash_attn.cute  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - an import error of any of its own dependencies too
        return f"flash_attn.cute does not import ({type(exc).__name__}: {exc})"
    major, minor = torch.cuda.get_device_capability(device)
    if major < 9:
        return f"the GPU is sm{major}{minor}; FlashAttention-4 needs sm90 (Hopper) or newer"
    return None


def fa4_applies(qkv: torch.Tensor) -> bool:
    """Whether FlashAttention-4 takes these projections: a CUDA tensor in bf16 or fp16 (under
    autocast); elsewhere (CPU, fp32) the attention falls back to torch's kernels."""
    return qkv.is_cuda and qkv.dtype in (torch.bfloat16, torch.float16)


@torch.compiler.disable  # its kernels compile themselves (CuTe DSL); torch.compile must not trace into them
def fa4_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention, non-causal, scale 1/sqrt(d): ``q, k, v [B, T, H, d]`` -> ``[B, T, H, d]``
    (FlashAttention's layout; the last dimension contiguous)."""
    try:
        from flash_attn.cute import flash_attn_func
    except Exception as exc:  # noqa: BLE001
        raise RuntimeError(f"model.attention=fa4: flash_attn.cute does not import ({exc}); {INSTALL}") from exc
    out = flash_attn_func(q, k, v)
    return out[0] if isinstance(out, tuple) else out  # (out, lse) in the versions that return both
