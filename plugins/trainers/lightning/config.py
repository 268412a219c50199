"""`lrmzero train` configuration: packaged presets, a user file and key=value overrides, loaded by
core's one YAML loader and validation layer."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from omegaconf import OmegaConf

from lrmzero.config import load_yaml_file, merge_layers, parse_overrides
from lrmzero.errors import ConfigError, PluginError
from lrmzero.params import check_params, check_references, param
from lrmzero.registry import Registries


@dataclass
class DataConfig:
    input_views: int = param(4, "input views per object", ge=1, le=64)
    target_views: int = param(8, "target views per object (the inputs included)", ge=1, le=128)
    resolution: int = param(64, "training image size (a multiple of the patch size)", ge=8, le=2048)
    background: List[float] = param([1.0, 1.0, 1.0], "RGB the views are composited over", ge=0.0, le=1.0)
    batch_size: int = param(2, "objects per batch (per device)", ge=1)
    num_workers: int = param(0, "data loader worker processes", ge=0)
    weights: Optional[List[float]] = param(None, "sampling weight of each --data root (null: by object count)", ge=0.0)
    fixed_views: bool = param(False, "the same input/target views every epoch (to over-fit or debug)")
    validate: str = param("full", "check every object before the first step (see lrmzero validate): full "
                          "(decode every view), headers (sizes only), none (broken objects are skipped with a "
                          "warning as they come); a clean check recorded in validated.json is trusted while "
                          "the objects stay the same", choices=["full", "headers", "none"])
    samples_per_object: int = param(1, "consecutive samples drawn from each object, each with other views: "
                                    "with --data procedural, objects generated per sample = 1 / this", ge=1, le=64)
    val_objects: int = param(0, "objects held out of training (the last ones found) and validated every "
                             "trainer.val_every steps: val_psnr, val_ssim in the logs", ge=0)


@dataclass
class OptimConfig:
    lr: float = param(4e-4, "peak AdamW learning rate", gt=0.0)
    betas: List[float] = param([0.9, 0.95], "AdamW betas", ge=0.0, lt=1.0)
    weight_decay: float = param(0.05, "weight decay on >= 2-D weights only", ge=0.0)
    warmup_steps: int = param(2000, "linear warm-up steps, then cosine decay to 0", ge=0)
    max_steps: int = param(80000, "optimizer steps", ge=1)
    accumulate: int = param(1, "batches whose gradients make one optimizer step (global batch = "
                            "data.batch_size x devices x accumulate)", ge=1, le=4096)
    grad_clip: float = param(1.0, "gradient-norm clip", gt=0.0)
    skip_factor: float = param(10.0, "skip a step whose gradient norm exceeds grad_clip x this", gt=1.0)
    max_consecutive_skips: int = param(100, "stop with an error after this many skipped steps in a row", ge=1)
    guard_on_device: bool = param(False, "decide skips and clipping on the device (fused AdamW skips or clips "
                                  "in its kernel) instead of reading the gradients' norm every step: the host "
                                  "never waits for the GPU (a GPU lever; the paper presets' default). A skipped "
                                  "step then still counts as a step, non-finite gradients skip it (with "
                                  "optim.accumulate > 1, a non-finite batch skips its whole step), and a skip is "
                                  "reported one step late")


@dataclass
class LossConfig:
    perceptual_weight: float = param(0.5, "weight of the VGG-19 perceptual term", ge=0.0)
    mask_weight: float = param(0.0, "weight of the mask term: MSE between the rendered opacity and the "
                               "target views' alpha (free with the data; not in GS-LRM's recipe)", ge=0.0)
    depth_weight: float = param(0.0, "weight of the depth term: L1 between the rendered and the target views' "
                                "depth maps where the views are not empty, weighted by the rendered opacity "
                                "(reads the datasets' depth maps; not in GS-LRM's recipe)", ge=0.0)
    perceptual_start: int = param(5000, "step from which the perceptual term is on", ge=0)
    vgg_weights: Optional[str] = param(None, "local VGG-19 state dict (torchvision format); none: term off")


@dataclass
class TrainerConfig:
    accelerator: str = param("auto", "Lightning accelerator: auto, cpu, gpu")
    devices: Any = param("auto", "Lightning devices")
    strategy: str = param("auto", "Lightning strategy: auto, ddp, fsdp, ...")
    num_nodes: int = param(1, "machines", ge=1)
    precision: str = param("auto", "auto: bf16-mixed on CUDA, 32 on CPU; or any Lightning precision")
    log_every: int = param(10, "steps between log rows", ge=1)
    image_every: int = param(100, "steps between image grids written to RUN/images", ge=1)
    checkpoint_every: int = param(100, "steps between checkpoints (last.ckpt is kept)", ge=1)
    keep_every: int = param(0, "steps between snapshots kept for good, weights only, for evaluating the run "
                            "along the way (checkpoints/step_NNNNNN.ckpt); 0: none", ge=0)
    val_every: int = param(1000, "steps between validations on the held-out objects (data.val_objects)", ge=1)
    compile: bool = param(False, "torch.compile the network (a GPU lever: compiling first, then faster "
                          "steps; benchmarks/train.py --compile measures it)")
    compile_mode: str = param("default", "torch.compile's mode with trainer.compile: default, or "
                              "max-autotune-no-cudagraphs (minutes of kernel tuning first; on an H100 it kept cuBLAS "
                              "for every GEMM of the paper step: no gain; benchmarks/train.py --compile-mode measures "
                              "it on other cards). Modes "
                              "with CUDA graphs are not offered: they remove launch overhead, which the step's "
                              "large kernels hide, and hold a memory pool of their own",
                              choices=["default", "max-autotune-no-cudagraphs"])

    def check(self) -> None:
        """Refuse, before any work, what Lightning would refuse only once the run starts (an unknown
        accelerator, strategy or precision; an accelerator this machine lacks) and what the
        stability guards cannot serve correctly."""
        check_lightning_names(self)
        if "16" in self.precision and "bf16" not in self.precision:
            raise ConfigError(f"trainer.precision: got {self.precision!r}; allowed: auto, bf16-mixed, 32-true, "
                              "... (fp16 is refused: its loss scaling inflates the gradient norm the spike "
                              "guard and clipping read; bf16 needs no scaling)")
        if any(word in self.strategy.lower() for word in ("fsdp", "deepspeed")):
            raise ConfigError(f"trainer.strategy: got {self.strategy!r}; allowed: auto, ddp, ddp_spawn, ... "
                              "(sharded strategies are refused: the spike guard and clipping would read one "
                              "shard's gradient norm)")


def check_lightning_names(t: TrainerConfig) -> None:
    """``trainer.accelerator``, ``strategy`` and ``precision`` against Lightning's own registries
    (so plugins that register more are allowed), and the accelerator against this machine.

    Raises:
        ConfigError: naming the key, the value and what Lightning allows.
    """
    import typing

    from lightning_fabric.connector import _PRECISION_INPUT_STR, _PRECISION_INPUT_STR_ALIAS
    from pytorch_lightning.accelerators import AcceleratorRegistry
    from pytorch_lightning.strategies import StrategyRegistry

    accelerators = sorted(AcceleratorRegistry.available_accelerators())
    if t.accelerator not in ("auto", "gpu", *accelerators):
        raise ConfigError(f"trainer.accelerator: got {t.accelerator!r}; allowed: auto, gpu, {', '.join(accelerators)}")
    name = "cuda" if t.accelerator == "gpu" else t.accelerator
    if name != "auto" and not AcceleratorRegistry[name]["accelerator"].is_available():
        usable = [a for a in accelerators if AcceleratorRegistry[a]["accelerator"].is_available()]
        raise ConfigError(f"trainer.accelerator: got {t.accelerator!r}, which this machine cannot use (Lightning "
                          f"finds no {name} device); allowed here: auto, {', '.join(usable)}")
    strategies = StrategyRegistry.available_strategies()
    if t.strategy not in ("auto", *strategies):
        shown = [s for s in strategies if not any(w in s for w in ("find_unused", "fsdp", "deepspeed"))]
        raise ConfigError(f"trainer.strategy: got {t.strategy!r}; allowed: auto, {', '.join(shown)}, ...")
    precisions = ("auto", *typing.get_args(_PRECISION_INPUT_STR), *typing.get_args(_PRECISION_INPUT_STR_ALIAS))
    if str(t.precision) not in precisions:
        shown = [p for p in precisions if "16" not in p or "bf16" in p]  # fp16: refused below
        raise ConfigError(f"trainer.precision: got {t.precision!r}; allowed: {', '.join(shown)}")
    if name == "auto":  # Lightning's own order of preference
        name = next((a for a in ("cuda", "mps") if a in accelerators
                     and AcceleratorRegistry[a]["accelerator"].is_available()), "cpu")
    check_devices(t.devices, AcceleratorRegistry[name]["accelerator"], name)


def check_devices(devices: Any, accelerator: Any, name: str) -> None:
    """``trainer.devices`` in a form Lightning takes (``auto``, a count, ``-1`` for every device, a
    list of device indices or a string of them such as ``"0,1"``) and that the ``accelerator``
    class (``name``: the one the run will use) can serve here: a CPU takes only a count, a GPU list
    only devices the machine has. Lightning would refuse these only when the run starts, some with
    a bare TypeError.

    Raises:
        ConfigError: naming trainer.devices, the value and what is allowed.
    """
    def is_index(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    ok = (devices == "auto" or (is_index(devices) and devices > 0) or devices == -1
          or (isinstance(devices, (list, tuple)) and devices and all(is_index(v) for v in devices))
          or (isinstance(devices, str) and re.fullmatch(r"-1|\d+|(\d+,)+\d*", devices.replace(" ", ""))))
    if not ok:
        raise ConfigError(f"trainer.devices: got {devices!r}; allowed: auto, a number of devices >= 1 (-1: all), "
                          "a list of device indices such as [0, 1], or a string of them such as '0,1'")
    if devices == "auto":
        return
    try:
        accelerator.parse_devices(devices)
    except Exception as exc:  # noqa: BLE001 - Lightning raises TypeError or MisconfigurationException
        allowed = "a number of processes >= 1" if name == "cpu" else "devices this machine has"
        raise ConfigError(f"trainer.devices: got {devices!r}, which the {name} accelerator cannot use "
                          f"({' '.join(str(exc).split())}); allowed: auto or {allowed}") from None


@dataclass
class TrainConfig:
    seed: int = param(0, "seed of initialization, sampling and view choice", ge=0, le=2**32 - 1)
    model: Dict[str, Any] = field(default_factory=dict, metadata={
        "help": "the model: {name: <registered model>, <its parameters>} (the presets name one)"})
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def load_train_config(preset: str | None, config: str | Path | None, overrides: Sequence[str],
                      registries: Registries) -> tuple[TrainConfig, Any]:
    """Packaged preset <- file <- overrides; returns (config, the model's Config).

    Raises:
        ConfigError / PluginError: naming the key, the value and what is allowed, before any work.
    """
    preset = preset or "tiny"
    folder = resources.files("lrmzero.plugins.trainers.lightning") / "presets"
    name = f"{preset}.yaml"
    if not (folder / name).is_file():
        raise ConfigError(f"--preset: got {preset!r}; allowed: {', '.join(presets())}")
    layers = [OmegaConf.create((folder / name).read_text())]
    if config is not None:
        if str(config) in presets() and not Path(config).is_file():
            raise ConfigError(f"--config: {str(config)!r} is not a file; it is a preset: --preset {config}")
        layers.append(load_yaml_file(config))
    layers.append(parse_overrides(overrides, "optim.lr=1e-4"))
    cfg: TrainConfig = merge_layers(TrainConfig, layers)
    check_params(cfg, "")
    d = cfg.data
    if len(d.background) != 3:
        raise ConfigError(f"data.background: got {d.background}; allowed: three numbers in [0, 1]")
    if len(cfg.optim.betas) != 2:
        raise ConfigError(f"optim.betas: got {cfg.optim.betas}; allowed: two numbers in [0, 1)")
    if d.target_views < d.input_views:
        raise ConfigError(f"data.target_views: got {d.target_views}, fewer than data.input_views "
                          f"{d.input_views}; allowed: >= data.input_views (targets include the inputs)")
    model = dict(cfg.model)
    name = model.get("name")
    preset_model = OmegaConf.to_container(layers[0]).get("model") or {}
    if name != preset_model.get("name"):
        # another model than the preset's: the preset's model parameters belong to that one
        model = {}
        for layer in layers[1:]:
            given = OmegaConf.to_container(layer).get("model") or {}
            model.update(given if isinstance(given, dict) else {})
    model.pop("name", None)
    if name not in registries.models:
        raise PluginError(f"model.name: unknown models {name!r}; known models: {', '.join(registries.models.names())}")
    model_cfg = registries.models.make_config(name, model, "model")
    check_references(model_cfg, "model", registries)
    check_model_resolution(registries.models.get(name).factory(model_cfg), d.resolution, "data.resolution")
    cfg.model = {"name": name, **dataclasses.asdict(model_cfg)}
    return cfg, model_cfg


def presets() -> list[str]:
    """Names of the packaged training presets (``lrmzero train --preset NAME``)."""
    folder = resources.files("lrmzero.plugins.trainers.lightning") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def check_model_resolution(model: Any, resolution: int, key: str) -> None:
    """Ask the model component whether it takes ``resolution``-pixel images (the optional
    ``check_resolution(resolution, key)`` of the model contract), before any work starts."""
    check = getattr(model, "check_resolution", None)
    if check is not None:
        check(resolution, key)
