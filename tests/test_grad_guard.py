"""The optimizer step's gradient guard against torch's own nan_to_num and clip_grad_norm_."""

import pytest
import torch

from lrmzero.plugins.trainers.lightning.grad_guard import guard_gradients


def _grads(scale: float, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g) * scale for shape in ((7, 5), (11,), (3, 4, 2))]


def _reference(grads: list[torch.Tensor], clip: float) -> tuple[list[torch.Tensor], torch.Tensor]:
    """What the trainer did before: nan_to_num on every tensor, then torch's clip_grad_norm_."""
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.nan_to_num(g.clone(), nan=0.0, posinf=0.0, neginf=0.0)
    norm = torch.nn.utils.clip_grad_norm_(params, clip)
    return [p.grad for p in params], norm


@pytest.mark.parametrize("scale", [0.01, 1.0])
def test_gradients_are_clipped_as_clip_grad_norm_does(scale):
    grads = _grads(scale)
    want, want_norm = _reference(grads, clip=0.5)
    norm, skip = guard_gradients(grads, clip=0.5, skip_factor=100.0)
    assert not skip
    torch.testing.assert_close(norm, want_norm)
    for got, ref in zip(grads, want):
        torch.testing.assert_close(got, ref)


def test_gradients_below_the_clip_are_left_untouched():
    grads = _grads(0.01)
    before = [g.clone() for g in grads]
    norm, skip = guard_gradients(grads, clip=1.0, skip_factor=10.0)
    assert not skip and float(norm) < 1.0
    assert all(torch.equal(g, b) for g, b in zip(grads, before))


def test_non_finite_entries_become_zero_before_the_norm():
    grads = _grads(1.0)
    grads[0][2, 3], grads[1][4], grads[2][1, 1, 0] = float("nan"), float("inf"), float("-inf")
    want, want_norm = _reference(grads, clip=0.5)
    norm, skip = guard_gradients(grads, clip=0.5, skip_factor=100.0)
    assert not skip
    torch.testing.assert_close(norm, want_norm)
    for got, ref in zip(grads, want):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, ref)


def test_a_spike_is_refused_and_left_as_it_is():
    grads = _grads(100.0)
    before = [g.clone() for g in grads]
    norm, skip = guard_gradients(grads, clip=1.0, skip_factor=10.0)
    assert skip and float(norm) > 10.0
    assert all(torch.equal(g, b) for g, b in zip(grads, before))


@pytest.mark.parametrize("case", ["clip", "non-finite", "spike"])
def test_a_norm_read_by_the_caller_guards_as_the_guard_reading_it(case):
    """The trainer reads the norm with the loss in one wait and hands both over."""
    from lrmzero.plugins.trainers.lightning.grad_guard import total_norm

    scale, clip, factor = {"clip": (1.0, 0.5, 100.0), "non-finite": (1.0, 0.5, 100.0),
                           "spike": (100.0, 1.0, 10.0)}[case]
    own, given = _grads(scale), _grads(scale)
    if case == "non-finite":
        for grads in (own, given):
            grads[1][4] = float("nan")
    want_norm, want_skip = guard_gradients(own, clip=clip, skip_factor=factor)
    norm = total_norm(given)
    got_norm, got_skip = guard_gradients(given, clip=clip, skip_factor=factor, norm=(norm, float(norm)))
    assert got_skip == want_skip == (case == "spike")
    torch.testing.assert_close(got_norm, want_norm)
    for got, ref in zip(given, own):
        torch.testing.assert_close(got, ref)


def _adamw_step(grads: list[torch.Tensor], **state) -> tuple[list[torch.Tensor], torch.optim.AdamW]:
    """One fused AdamW step from zero-ish weights with ``grads``; ``state``: found_inf / grad_scale."""
    params = [torch.nn.Parameter(torch.linspace(-1, 1, g.numel(), device=g.device).reshape(g.shape)) for g in grads]
    opt = torch.optim.AdamW(params, lr=0.1, weight_decay=0.05, fused=True)
    for name, value in state.items():
        setattr(opt, name, value)
    for p, g in zip(params, grads):
        p.grad = g.clone()
    opt.step()
    return [p.detach() for p in params], opt


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device")])])
@pytest.mark.parametrize("case", ["below the clip", "clip", "spike", "nan loss", "non-finite gradients"])
def test_the_device_guard_steps_as_the_host_guard_does(case, device):
    """optim.guard_on_device: the decisions as device tensors, handed to fused AdamW as found_inf and
    grad_scale, give the weights and state the host guard gives: clipped as clip_grad_norm_ clips, a
    spike or a non-finite loss skipped with the weights and AdamW's state untouched. Non-finite gradient
    entries skip the step (the host guard zeroes them and steps)."""
    from lrmzero.plugins.trainers.lightning.grad_guard import guard_on_device, total_norm

    scale, clip, factor = {"below the clip": (0.01, 1.0, 10.0), "clip": (1.0, 0.5, 100.0),
                           "spike": (100.0, 1.0, 10.0), "nan loss": (1.0, 0.5, 100.0),
                           "non-finite gradients": (1.0, 0.5, 100.0)}[case]
    grads = [g.to(device) for g in _grads(scale)]
    if case == "non-finite gradients":
        grads[1][4] = float("inf")
    loss = torch.tensor(float("nan") if case == "nan loss" else 0.3, device=device)
    nonfinite, spike, factor_t = guard_on_device(total_norm(grads), loss, clip, factor)
    assert (bool(nonfinite), bool(spike)) == (case in ("nan loss", "non-finite gradients"), case == "spike")
    got, opt = _adamw_step(grads, found_inf=(nonfinite | spike).float(), grad_scale=factor_t)
    skipped = case in ("spike", "nan loss", "non-finite gradients")
    untouched, _ = _adamw_step([torch.zeros_like(g) for g in grads], found_inf=torch.tensor(1.0))
    if skipped:
        assert all(torch.equal(a, b) for a, b in zip(got, untouched))
        assert all(float(s["step"]) == 0 and not s["exp_avg"].any() for s in opt.state.values())
        return
    host = [g.clone() for g in grads]
    _, host_skip = guard_gradients(host, clip=clip, skip_factor=factor)
    want, _ = _adamw_step(host)
    assert not host_skip
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert (float(factor_t) > 1) == (case == "clip")
