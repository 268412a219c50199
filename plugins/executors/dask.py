"""The ``dask`` executor: the same per-object jobs as tasks on a Dask cluster (``lrmzero[dask]``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from lrmzero import ConfigError, param
from lrmzero.components import Executor, ObjectJobSpec


class DaskExecutor(Executor):
    """Tasks on the Dask cluster at ``scheduler``, or on a LocalCluster of ``--workers`` processes
    bound to 127.0.0.1. Each worker process makes one job (components, GL context) per run."""

    name = "dask"

    @dataclass
    class Config:
        scheduler: str = param("", "scheduler address, e.g. tcp://host:8786 (empty: a LocalCluster)")

    def check(self) -> None:
        try:
            import dask.distributed  # noqa: F401 - checked before anything is written
        except ImportError:
            raise ConfigError("execute.executor=dask needs the optional extra: pip install 'lrmzero[dask]'") from None

    def run(self, spec: ObjectJobSpec, indices: list[int], workers: int,
            record: Callable[[dict[str, Any]], None], failed: Callable[[int, BaseException], dict]) -> None:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None
        if self.cfg.scheduler:
            try:
                client = Client(self.cfg.scheduler)
            except OSError as exc:  # distributed's connect timeouts and refusals are OSErrors
                raise ConfigError(f"executors.dask.scheduler: cannot reach {self.cfg.scheduler!r} ({exc}); "
                                  "allowed: the address of a running Dask scheduler, or empty for a "
                                  "local cluster") from None
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        futures: dict = {}
        try:
            futures = {client.submit(spec, index, pure=False, retries=spec.retries): index
                       for index in indices}
            for fut in as_completed(futures):
                try:
                    record(fut.result())
                except Exception as exc:  # noqa: BLE001 - a failed object is recorded, the run goes on
                    record(failed(futures[fut], exc))
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
