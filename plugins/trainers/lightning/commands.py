"""The trainer's subcommands: ``lrmzero train``, ``eval`` and ``reconstruct`` (``register_commands``).

Argument parsing only; torch and Lightning are imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys

from lrmzero.components import Command


class TrainCommand(Command):
    name = "train"
    help = "train a reconstruction model on generated datasets"

    @property
    def config_sections(self) -> dict[str, type]:  # type: ignore[override]
        from lrmzero.plugins.trainers.lightning.config import DataConfig, LossConfig, OptimConfig, TrainerConfig

        return {"data": DataConfig, "optim": OptimConfig, "loss": LossConfig, "trainer": TrainerConfig}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", action="append", required=True,
                            help="dataset folder, a pattern of them (data/zv-*), shards or NAME:... (repeat to mix)")
        parser.add_argument("--out", required=True, help="run folder: checkpoints/last.ckpt, logs, images")
        from lrmzero.plugins.trainers.lightning.config import presets

        parser.add_argument("--preset", default="tiny", choices=presets(), metavar="PRESET",
                            help=f"one of {', '.join(presets())}: tiny trains on a CPU in minutes, paper is "
                            "GS-LRM at 256 px, paper-8view with 8 input views, paper-512 its 512 px second stage")
        parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides optim.max_steps)")
        resume = parser.add_mutually_exclusive_group()
        resume.add_argument("--resume", action="store_true",
                            help="continue the run in --out from its newest checkpoint")
        resume.add_argument("--auto-resume", action="store_true",
                            help="continue the run in --out if it holds a checkpoint, else start it: the command of a "
                                 "job that a cluster may preempt and requeue")
        parser.add_argument("--init", default=None,
                            help="start from this checkpoint's network weights (same model; new optimizer and "
                                 "schedule), e.g. --preset paper-512 from a paper run")
        parser.add_argument("--config", default=None, help="YAML file merged over the preset")
        parser.add_argument("--quiet", action="store_true", help="no progress bar, no Lightning start-up lines")
        parser.add_argument("overrides", nargs="*", metavar="key=value",
                            help="config overrides (lrmzero plugins and docs/configs.md list the keys)")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.dataset import check_positive
        from lrmzero.plugin_manager import get_registries
        from lrmzero.plugins.trainers.lightning.config import load_train_config
        from lrmzero.plugins.trainers.lightning.stop_signals import StoppedBySignal
        from lrmzero.plugins.trainers.lightning.train import train
        from pytorch_lightning.utilities import rank_zero_only

        check_positive(args.max_steps, "--max-steps")
        cfg, _ = load_train_config(args.preset, args.config, args.overrides, get_registries())
        try:
            last = train(args.data, args.out, cfg, resume="auto" if args.auto_resume else args.resume,
                         max_steps=args.max_steps, progress=not args.quiet, init=args.init)
        except StoppedBySignal as stopped:  # a finished step saved; a cluster's scheduler reads 128 + signal
            if rank_zero_only.rank == 0:
                print(f"lrmzero train: {stopped}", file=sys.stderr)
            return stopped.exit_code
        if rank_zero_only.rank == 0:  # under DDP every process returns here; one line is enough
            print(f"checkpoint: {last}", file=sys.stderr)
        return 0


class EvalCommand(Command):
    name = "eval"
    help = "PSNR/SSIM/LPIPS of a checkpoint on held-out views"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--checkpoint", required=True,
                            help="a .ckpt of lrmzero train, or its run folder (checkpoints/last.ckpt)")
        parser.add_argument("--data", required=True, help="held-out dataset folder or shards")
        parser.add_argument("--json", default=None, help="write the results here")
        parser.add_argument("--report", default=None,
                            help="folder: per_view.csv and per object inputs | truth | prediction | error images")
        parser.add_argument("--views-in", type=int, default=None, help="input views (default: as trained)")
        parser.add_argument("--resolution", type=int, default=None, help="image size (default: as trained)")
        parser.add_argument("--max-objects", type=int, default=None, help="evaluate the first N objects only")
        parser.add_argument("--lpips-weights", default=None,
                            help="the lpips package's VGG linear heads (v0.1 vgg.pth); with --vgg16-weights: LPIPS")
        parser.add_argument("--vgg16-weights", default=None,
                            help="torchvision VGG-16 state dict (vgg16-*.pth), LPIPS's trunk; without: LPIPS null")
        parser.add_argument("--device", default="auto", help="auto (CUDA where there is one), cpu, cuda, cuda:N")
        parser.add_argument("--workers", type=int, default=0,
                            help="loader processes decoding the next objects while the model runs, for a GPU "
                                 "(default 0: decode here; on a CPU the model needs the cores)")
        parser.add_argument("--snapshots", action="store_true",
                            help="--checkpoint is a run folder: evaluate each snapshot it kept (trainer.keep_every) "
                                 "and its last checkpoint, one row per step")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.plugins.trainers.lightning.eval_snapshots import evaluate_snapshots, format_curve
        from lrmzero.plugins.trainers.lightning.evaluate import evaluate, format_table

        options = dict(views_in=args.views_in, resolution=args.resolution, max_objects=args.max_objects,
                       lpips_weights=args.lpips_weights, vgg16_weights=args.vgg16_weights, device=args.device,
                       progress=not args.quiet, workers=args.workers)
        if args.snapshots:
            print(format_curve(evaluate_snapshots(args.checkpoint, args.data, json_path=args.json,
                                                  report=args.report, **options)))
            return 0
        print(format_table(evaluate(args.checkpoint, args.data, json_path=args.json, report=args.report, **options)))
        return 0


class ReconstructCommand(Command):
    name = "reconstruct"
    help = "images + cameras -> the model's 3D export (.ply, mesh) and a turntable"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--checkpoint", required=True,
                            help="a .ckpt of lrmzero train, or its run folder (checkpoints/last.ckpt)")
        parser.add_argument("--images", required=True,
                            help="folder of the input views (the cameras file's file_path entries, or every image)")
        parser.add_argument("--cameras", required=True,
                            help="opencv_cameras.json of the input views, or a camera rig that poses every image of "
                            "--images in name order: a camera sampler NAME[:key=value,...], e.g. "
                            "orbit:elevations_deg=[20],radius=2.2,fov_deg=50 (4 views at azimuths 0, 90, 180, 270)")
        parser.add_argument("--out", required=True, help="folder: gaussians.ply / mesh, turntable.png and .gif")
        parser.add_argument("--turntable-views", type=int, default=24, help="frames of the turntable (default 24)")
        parser.add_argument("--device", default="auto", help="auto (CUDA where there is one), cpu, cuda, cuda:N")

    def run(self, args: argparse.Namespace) -> int:
        from lrmzero.plugins.trainers.lightning.reconstruct import reconstruct

        outputs = reconstruct(args.checkpoint, args.images, args.cameras, args.out, args.turntable_views,
                              device=args.device)
        for key, path in outputs.items():
            print(f"{key}: {path}")
        return 0
