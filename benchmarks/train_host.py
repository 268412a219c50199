"""The host's share of a `lrmzero train` step: what the CPU does between the device's work, which the
device waits for whenever its queue runs dry (after each wait for the device, and after the optimizer
step, whose few milliseconds of kernels are all the host has to start the next step in).

Runs `lrmzero train`'s own loop (Lightning, the loader, the guards, the logging) for --steps steps on a
small dataset (generated into a temporary folder unless --data names one) and prints, per step, medians
from step 20 on: the training step itself, Lightning's logging calls in it, the host time between
one training step and the next (Lightning's loop, fetching the batch, moving it, composing it), and
the garbage collector's pauses (a full collection walks every object the set-up left, torch.compile's
caches included: pass trainer.compile=true), and where one step (the module's batch hook and training
step) makes the host wait for the device: on a GPU the waits CUDA reports (torch.cuda.set_sync_debug_mode),
on a CPU every operation that would be one on a GPU (a tensor's value read, linalg's error checks,
nonzero and boolean-mask indexing) — there reads of the step's one host copy count too, and the torch
rasterizer's (the GPU path uses gsplat) and torch.optim's CPU kernels show up.
On a CPU the step's compute is in these figures too; the logging and the time between steps are the
host's alone, as on a GPU machine (there on faster cores).

Usage: python benchmarks/train_host.py [--steps 80] [--preset tiny] [--data DIR] [key=value ...]
"""

from __future__ import annotations

import argparse
import collections
import gc
import statistics
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import lrmzero
import lrmzero.plugins
from lrmzero import get_registries
from lrmzero.plugins.trainers.lightning import module as module_file
from lrmzero.plugins.trainers.lightning.config import load_train_config
from lrmzero.plugins.trainers.lightning.train import train

WARM_UP_STEPS = 20  # Lightning registers each logged name on its first call: slower than the steady state
SOURCES = (Path(lrmzero.__file__).parent, Path(lrmzero.plugins.__file__).parent)

# Operations that wait for a CUDA device to finish its queue: reading a value (item, float, bool, int),
# linalg's checks for singular input, and those whose output size depends on the values.
WAITING_OPS = {"aten._local_scalar_dense.default", "aten._linalg_check_errors.default", "aten.nonzero.default",
               "aten.masked_select.default", "aten._unique2.default", "aten.unique_consecutive.default",
               "aten.unique_dim.default", "aten.repeat_interleave.Tensor"}


def where_called() -> str:
    """The innermost lrmzero frame of the current stack, as ``path:line function`` (``+ torch.optim`` when
    the wait is inside the optimizer's step)."""
    stack = traceback.extract_stack()
    ours = [f for f in stack if any(Path(f.filename).is_relative_to(root) for root in SOURCES)]
    if not ours:
        return "outside lrmzero"
    frame = ours[-1]
    root = next(r for r in SOURCES if Path(frame.filename).is_relative_to(r))
    place = f"{root.name}/{Path(frame.filename).relative_to(root)}:{frame.lineno} {frame.name}"
    return place + (" + torch.optim" if any("torch/optim/" in f.filename for f in stack) else "")


class WaitRecorder(TorchDispatchMode):
    """Counts the operations in :data:`WAITING_OPS` (and indexing with a boolean mask) by where they are
    called. Used on a CPU, where nothing waits: it lists what would on a GPU."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        if name in WAITING_OPS or (name == "aten.index.Tensor" and any(
                t is not None and t.dtype == torch.bool for t in args[1])):
            self.sites[(name.removeprefix("aten.").removesuffix(".default"), where_called())] += 1
        return func(*args, **(kwargs or {}))


class CudaWaits:
    """The waits CUDA reports in a block (``torch.cuda.set_sync_debug_mode("warn")``), by where called."""

    def __init__(self) -> None:
        self.sites: collections.Counter = collections.Counter()
        self._caught = None

    def __enter__(self):
        self._caught = warnings.catch_warnings()
        self._caught.__enter__()
        warnings.simplefilter("always")
        shown = warnings.showwarning

        def record(message, category, *args, **kwargs):
            if "synchronizing" in str(message):
                self.sites[("cuda sync", where_called())] += 1
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")
        return self

    def __exit__(self, *exc) -> None:
        torch.cuda.set_sync_debug_mode("default")
        self._caught.__exit__(*exc)


class HostClock:
    """Wall time of the module's training steps, its logging calls, the gaps between steps and the
    garbage collector's pauses, per step."""

    def __init__(self) -> None:
        self.step_seconds: list[float] = []
        self.log_seconds: dict[int, float] = {}
        self.between_seconds: list[float] = []
        self.step_ended: float | None = None
        self.collections: list[tuple[int, int, float]] = []  # (step, generation, seconds)
        self._collection_started = 0.0
        gc.callbacks.append(self._on_collection)
        self.waits = None  # a WaitRecorder or CudaWaits over step WARM_UP_STEPS + 1
        self._recording = False

    def _on_collection(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._collection_started = time.perf_counter()
        else:
            self.collections.append((len(self.step_seconds), info["generation"],
                                     time.perf_counter() - self._collection_started))

    def _record_waits(self, start: bool) -> None:
        """Waits for the device are recorded from the batch hook of step WARM_UP_STEPS + 1 (whose
        batch is then on the device) to the end of its training step."""
        if start and self.waits is None and len(self.step_seconds) == WARM_UP_STEPS:
            self.waits = CudaWaits() if torch.cuda.is_available() else WaitRecorder()
            self.waits.__enter__()
            self._recording = True
        elif not start and self._recording:
            self.waits.__exit__(None, None, None)
            self._recording = False

    def wrap(self, cls) -> None:
        """Times ``cls.training_step`` and ``cls.log_dict`` (the trainer's LightningModule), and records the
        waits for the device of one step from ``cls.on_after_batch_transfer`` on."""
        clock, training_step, log_dict = self, cls.training_step, cls.log_dict
        batch_hook = cls.on_after_batch_transfer

        def recorded_batch_hook(module, *args, **kwargs):
            if module.trainer.training:
                clock._record_waits(start=True)
            return batch_hook(module, *args, **kwargs)

        def timed_training_step(module, *args, **kwargs):
            start = time.perf_counter()
            if clock.step_ended is not None:
                clock.between_seconds.append(start - clock.step_ended)
            out = training_step(module, *args, **kwargs)
            clock.step_ended = time.perf_counter()
            clock.step_seconds.append(clock.step_ended - start)
            clock._record_waits(start=False)
            return out

        def timed_log_dict(module, *args, **kwargs):
            start = time.perf_counter()
            out = log_dict(module, *args, **kwargs)
            step = len(clock.step_seconds)
            clock.log_seconds[step] = clock.log_seconds.get(step, 0.0) + time.perf_counter() - start
            return out

        cls.training_step, cls.log_dict = timed_training_step, timed_log_dict
        cls.on_after_batch_transfer = recorded_batch_hook

    def report(self) -> str:
        def ms(values: list[float], recorded: int) -> float:
            """Median from WARM_UP_STEPS on in ms, without index ``recorded`` (slowed by recording waits)."""
            kept = [v for i, v in enumerate(values) if i >= WARM_UP_STEPS and i != recorded]
            return 1000 * statistics.median(kept) if kept else float("nan")

        logs = [self.log_seconds.get(step, 0.0) for step in range(len(self.step_seconds))]
        steps = len(self.step_seconds)
        pauses = [(g, s) for step, g, s in self.collections if WARM_UP_STEPS <= step < steps]
        gc_line = "; ".join(
            f"generation {g}: {len(p)} x, {1000 * sum(p):.1f} ms in all, longest {1000 * max(p):.1f} ms"
            for g in (0, 1, 2) for p in [[s for gen, s in pauses if gen == g]] if p) or "none"
        # step WARM_UP_STEPS + 1 (index WARM_UP_STEPS) is the one whose waits were recorded, from its batch hook
        # on: it and the time before it (between_seconds[i] precedes step index i + 1) are left out
        return (f"steps {steps}, per step from step {WARM_UP_STEPS} on (medians; the step whose waits were "
                f"recorded left out): training step {ms(self.step_seconds, WARM_UP_STEPS):.2f} ms, of which logging "
                f"{1000 * statistics.mean(logs[WARM_UP_STEPS:]):.2f} ms (mean); host time between training steps "
                f"{ms(self.between_seconds, WARM_UP_STEPS - 1):.2f} ms\n"
                f"garbage collections from step {WARM_UP_STEPS} on: {gc_line}\n{self.waits_report()}")

    def waits_report(self) -> str:
        if self.waits is None:
            return "waits for the device: not recorded (too few steps)"
        kind = "reported by CUDA" if isinstance(self.waits, CudaWaits) else \
            "that would be on a GPU (a CPU run: reads of host copies count too)"
        lines = [f"waits for the device in step {WARM_UP_STEPS + 1} {kind}: {sum(self.waits.sites.values())}"]
        lines += [f"  {count} x {op} at {where}" for (op, where), count in sorted(self.waits.sites.items(),
                                                                                  key=lambda kv: kv[0][1])]
        return "\n".join(lines)


def small_dataset(root: Path, count: int) -> Path:
    """``count`` objects of the demo config at 64 px, raycast (no OpenGL needed)."""
    from lrmzero.plugins.generation.config import load_config
    from lrmzero.plugins.generation.runner import generate_dataset

    run = load_config("demo", ["render.renderer=raycast", "render.shading=lambert", "render.levels=false",
                               "render.resolution=64"])
    generate_dataset(run, root, count, seed=0, progress=False)
    return root


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--preset", default="tiny", help="the train preset (default tiny; paper on a GPU with --data)")
    p.add_argument("--data", default=None, help="a generated dataset (default: 3 objects made here, batches of 1)")
    p.add_argument("overrides", nargs="*", help="train config overrides")
    args = p.parse_args()
    if args.steps <= WARM_UP_STEPS:
        p.error(f"--steps: got {args.steps}; allowed: more than {WARM_UP_STEPS} (the figures are of the steps "
                "after them)")
    clock = HostClock()
    clock.wrap(module_file.ReconstructionModule)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else small_dataset(Path(tmp) / "data", 3)
        cfg, _ = load_train_config(args.preset, None, [
            f"optim.max_steps={args.steps}", *([] if args.data else ["data.batch_size=1"]),
            "trainer.checkpoint_every=100000", "trainer.image_every=100000", "trainer.val_every=100000",
            *args.overrides], get_registries())
        train([str(data)], Path(tmp) / "run", cfg, progress=False)
    print(clock.report())


if __name__ == "__main__":
    main()
