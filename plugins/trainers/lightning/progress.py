"""The training progress bar: Lightning's own (rich where installed, else tqdm), labelled for a run
that counts steps. A run here is one endless epoch bounded by ``max_steps`` (``max_epochs=-1``), which
Lightning's rich bar would title "Epoch 0/-2"."""

from __future__ import annotations

from pytorch_lightning.callbacks import ProgressBar, RichProgressBar, TQDMProgressBar


class StepRichProgressBar(RichProgressBar):
    def _get_train_description(self, current_epoch: int) -> str:  # Lightning's hook for the bar's title
        return "train"


class StepTQDMProgressBar(TQDMProgressBar):
    def on_train_epoch_start(self, trainer, *args) -> None:  # Lightning titles it "Epoch 0" here
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description("train")


def progress_bar() -> ProgressBar:
    """Lightning's rich bar when ``rich`` is installed, else its tqdm bar; both titled "train"."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return StepTQDMProgressBar()
    return StepRichProgressBar()
