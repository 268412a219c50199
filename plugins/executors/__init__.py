"""Executors: where a run's per-object jobs run (``execute.executor``): ``local`` worker processes,
or a ``dask`` cluster (optional extra ``lrmzero[dask]``). A Ray or Slurm executor is a plugin too."""

from lrmzero import hookimpl

from lrmzero.plugins.executors.dask import DaskExecutor
from lrmzero.plugins.executors.local import LocalExecutor


@hookimpl
def register_executors() -> list[type]:
    return [LocalExecutor, DaskExecutor]
