"""FlashAttention-4 (the ``flash_attn.cute`` package: CuTe DSL kernels for Hopper and Blackwell GPUs) as
GS-LRM's attention kernel, where it is installed (``pip install flash-attn-4``; the same module ships
as ``tokenspeed-fa4``). torch's own kernels for GS-LRM's head dimension 64 run at ~37% of an H200's
bf16 peak (cuDNN; FlashAttention-2 slower), attention being ~40% of the paper step; FlashAttention-3/4
are the kernels written for Hopper's tensor cores.

:func:`fa4_qkv_attention` takes the fused projections ``[B, T, 3, H, d]`` as the network makes them. Where
``flash_attn.cute.interface`` has the forward and backward entry points it is a torch custom op: torch.compile
traces a block through it in one graph (no graph break at the attention), and its backward writes the
gradients of q, k and v straight into one ``[B, T, 3, H, d]`` tensor instead of stacking three (a copy of
the projections' size per block). Elsewhere it calls ``flash_attn_func`` outside torch.compile's graphs.
The entry points are private to the package, so before the network uses them they must give SDPA's
attention and gradients on the device (:func:`resolve_kernels`); if not, ``flash_attn_func`` it is, with a
warning saying why.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from typing import Callable, Optional

import torch

log = logging.getLogger("lrmzero")

INSTALL = "pip install flash-attn-4 (or tokenspeed-fa4), on a Hopper (sm90) or newer GPU"


def quiet_compile_notices() -> None:
    """Leave out the CuTe DSL's warning, twice per kernel it compiles (each process, each shape), that
    FlashAttention-4's own ``aux_data`` argument (None here) is not a run-time argument: its business,
    not the user's (it filled every lrmzero train log on an H100, 2026-11-28). Other warnings stay."""
    warnings.filterwarnings("ignore", category=UserWarning,
                            message=r"Argument aux_data \(position \d+\) cannot be converted to a JitArgument")


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


# flash_attn.cute.interface's (forward, backward) where they take what this module passes and give SDPA's
# results, else None; looked up once, eagerly (by the model's prepare, or the first eager call), so that
# code torch.compile traces only reads it
_KERNELS: Optional[tuple[Callable, Callable]] = None
_RESOLVED = False


def interface_kernels() -> Optional[tuple[Callable, Callable]]:
    """``(_flash_attn_fwd, _flash_attn_bwd)`` of ``flash_attn.cute.interface`` if they exist and take
    ``return_lse`` and ``dq, dk, dv`` (the versions this module was written against), else None."""
    try:
        from flash_attn.cute import interface

        fwd, bwd = interface._flash_attn_fwd, interface._flash_attn_bwd
        takes = set(inspect.signature(fwd).parameters), set(inspect.signature(bwd).parameters)
    except Exception:  # noqa: BLE001 - any other layout of the package: the public function instead
        return None
    fits = {"q", "k", "v", "return_lse"} <= takes[0] and {"out", "dout", "lse", "dq", "dk", "dv"} <= takes[1]
    return (fwd, bwd) if fits else None


def resolve_kernels(device: Optional[torch.device] = None, heads: int = 16,
                    head_dim: int = 64) -> Optional[tuple[Callable, Callable]]:
    """The interface's entry points the custom op will call, or None (``flash_attn_func`` then). With a
    ``device``, they are first checked there on ``heads`` heads of ``head_dim`` (the network's: the same
    compiled kernels) against SDPA, forward and backward; a failure is logged and they are not used."""
    global _KERNELS, _RESOLVED
    if not _RESOLVED:
        quiet_compile_notices()
        _KERNELS = interface_kernels()
        if _KERNELS is not None and device is not None:
            problem = custom_op_problem(device, heads, head_dim)
            if problem:
                log.warning("model.attention=fa4: FlashAttention-4's interface entry points %s; using its "
                            "flash_attn_func instead (a graph break per block under torch.compile)", problem)
                _KERNELS = None
        _RESOLVED = True
    return _KERNELS


def custom_op_problem(device: torch.device, heads: int, head_dim: int, tokens: int = 256) -> Optional[str]:
    """What is wrong with the custom op on ``device`` (with the entry points in ``_KERNELS``): an error,
    or attention or gradients off SDPA's by more than bf16 allows (fp32 on a CPU); None if nothing."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    g = torch.Generator(device=device).manual_seed(0)
    qkv = torch.randn(1, tokens, 3, heads, head_dim, device=device, dtype=dtype, generator=g).requires_grad_()
    weights = torch.randn(1, tokens, heads, head_dim, device=device, generator=g)
    try:
        out = torch.ops.lrmzero.fa4_qkv_attention(qkv)[0]
        grad = torch.autograd.grad((out.float() * weights).sum(), qkv)[0]
    except Exception as exc:  # noqa: BLE001 - whatever the private entry points raise
        return f"fail here ({type(exc).__name__}: {exc})"
    ref_qkv = qkv.detach().float().requires_grad_()
    q, k, v = (t.transpose(1, 2) for t in ref_qkv.unbind(2))  # [1, H, T, d]
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2)
    ref_grad = torch.autograd.grad((ref * weights).sum(), ref_qkv)[0]
    tolerance = 2e-2 if dtype == torch.bfloat16 else 1e-4
    for name, got, want in (("attention", out, ref), ("gradients", grad, ref_grad)):
        error = float((got.detach().float() - want.detach()).norm() / want.detach().norm())
        if not error <= tolerance:
            return f"give {name} {error:.3g} off SDPA's (relative; allowed {tolerance:g})"
    return None


# Set by fall_back_to_sdpa(): FlashAttention-4 cannot run in this process (a checkpoint trained with it
# loaded for inference where it is missing), so attention=fa4 networks use torch's kernels.
_FALLEN_BACK = False


def fall_back_to_sdpa() -> None:
    """Make every ``attention=fa4`` network of this process use torch's kernels (same function)."""
    global _FALLEN_BACK
    _FALLEN_BACK = True


def fa4_applies(qkv: torch.Tensor) -> bool:
    """Whether FlashAttention-4 takes these projections: a CUDA tensor in bf16 or fp16 (under
    autocast), unless this process fell back (:func:`fall_back_to_sdpa`); elsewhere (CPU, fp32) the
    attention falls back to torch's kernels."""
    return not _FALLEN_BACK and qkv.is_cuda and qkv.dtype in (torch.bfloat16, torch.float16)


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


def fa4_qkv_attention(qkv: torch.Tensor) -> torch.Tensor:
    """Softmax attention of fused projections ``qkv [B, T, 3, H, d]`` (q, k, v along dim 2) ->
    ``[B, T, H, d]``; non-causal, scale 1/sqrt(d)."""
    if not _RESOLVED and not torch.compiler.is_compiling():
        resolve_kernels(qkv.device, qkv.shape[3], qkv.shape[4])
    if _KERNELS is None:
        return fa4_attention(*qkv.unbind(2))
    return torch.ops.lrmzero.fa4_qkv_attention(qkv)[0]


# exact strides for the custom ops' inputs: q, k and v are strided views of the fused projections, which
# the kernels read in place (inductor would otherwise be free to copy them into another layout)
_LAYOUT = tuple(t for t in (getattr(torch.Tag, "needs_exact_strides", None),) if t is not None)


@torch.library.custom_op("lrmzero::fa4_qkv_attention", mutates_args=(), tags=_LAYOUT)
def _fa4_qkv_forward(qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``qkv [B, T, 3, H, d]`` -> (out ``[B, T, H, d]``, log-sum-exp ``[B, H, T]`` fp32)."""
    out, lse = _KERNELS[0](*qkv.unbind(2), return_lse=True)[:2]
    return out, lse


@_fa4_qkv_forward.register_fake
def _(qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    B, T, _, H, d = qkv.shape
    return qkv.new_empty(B, T, H, d), qkv.new_empty(B, H, T, dtype=torch.float32)


@torch.library.custom_op("lrmzero::fa4_qkv_attention_backward", mutates_args=(), tags=_LAYOUT)
def _fa4_qkv_backward(dout: torch.Tensor, qkv: torch.Tensor, out: torch.Tensor, lse: torch.Tensor) -> torch.Tensor:
    """The gradient ``[B, T, 3, H, d]`` of the projections, the kernel writing dq, dk, dv into its slices."""
    dqkv = torch.empty(qkv.shape, dtype=qkv.dtype, device=qkv.device)
    views = dqkv.unbind(2)
    written = _KERNELS[1](*qkv.unbind(2), out, dout, lse, dq=views[0], dk=views[1], dv=views[2])[:3]
    for view, grad in zip(views, written):
        if grad.data_ptr() != view.data_ptr():  # a version that allocates its own outputs
            view.copy_(grad)
    return dqkv


@_fa4_qkv_backward.register_fake
def _(dout: torch.Tensor, qkv: torch.Tensor, out: torch.Tensor, lse: torch.Tensor) -> torch.Tensor:
    return torch.empty(qkv.shape, dtype=qkv.dtype, device=qkv.device)


def _save_for_backward(ctx, inputs: tuple, output: tuple) -> None:
    ctx.save_for_backward(inputs[0], *output)


def _backward(ctx, dout: torch.Tensor, dlse: Optional[torch.Tensor]) -> torch.Tensor:
    qkv, out, lse = ctx.saved_tensors
    return _fa4_qkv_backward(dout.contiguous(), qkv, out, lse)  # lse is not differentiated (unused downstream)


_fa4_qkv_forward.register_autograd(_backward, setup_context=_save_for_backward)
