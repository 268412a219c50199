"""The Lightning trainer: ``lrmzero train`` (LightningModule + DataModule, checkpoints, logs), ``eval``
(PSNR/SSIM/LPIPS beside baselines) and ``reconstruct``. It knows models only through the model
contract (:class:`lrmzero.components.ReconstructionModel`), so any registered backbone trains here.
"""

from lrmzero import hookimpl

from lrmzero.plugins.trainers.lightning.commands import EvalCommand, ReconstructCommand, TrainCommand


@hookimpl
def register_commands() -> list[type]:
    return [TrainCommand, EvalCommand, ReconstructCommand]
