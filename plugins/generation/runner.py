"""`generate_dataset`: build and write many objects through the run's executor, resumably and sharded."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from lrmzero.asset import encode_glb
from lrmzero.plugins.generation.config import RunConfig, config_yaml
from lrmzero.dataset import DatasetWriter, safe_object_id
from lrmzero.errors import ConfigError
from lrmzero.locks import hold_lock
from lrmzero.plugins.generation.real_meshes.load import COLOUR_TABLE, load_mesh_asset
from lrmzero.components import ComposeContext, ObjectJobSpec
from lrmzero.objects import camera_stream, object_id
from lrmzero.plugins.generation.render_stage import RenderStage
from lrmzero.plugin_manager import get_registries


@dataclass
class Summary:
    """What a run did: counts, failures and rate."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    exit_code: int = 0  # where interrupted: 130 (Ctrl-C) or 143 (SIGTERM), as a shell reports a signal
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        state = "interrupted" if self.interrupted else "finished"
        return (
            f"{state}: {self.done} done, {self.skipped} skipped, {self.failed} failed in "
            f"{self.seconds:.1f} s ({self.rate:.2f} objects/s)"
        )


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), with 0 <= I < N."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard: got {text!r}; allowed: I/N with integers 0 <= I < N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard: got {text!r}; allowed: I/N with 0 <= I < N, e.g. 0/4")
    return i, n


def shard_indices(num_objects: int, shard: tuple[int, int]) -> list[int]:
    """Object indices of shard ``(i, n)``: every n-th index starting at i."""
    i, n = shard
    return list(range(i, num_objects, n))


class ObjectJob:
    """Builds (or loads, given ``inputs``) and writes one object; one instance per worker process."""

    def __init__(self, run: RunConfig, seed: int, out: str | None, inputs: list[str] | None = None,
                 composer=None) -> None:
        self.run = run
        self.seed = seed
        self.inputs = inputs
        self._input_ids = None if inputs is None else input_object_ids(inputs)
        registries = get_registries()
        self.composer = composer or (make_composer(run, registries) if inputs is None else None)
        self._renderer: RenderStage | None = None
        self.writer = DatasetWriter(out) if out is not None else None  # None: make_files only

    def __call__(self, index: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        oid, files, meta, views = self.make_files(index)
        self.writer.write_object(oid, files, meta)
        return {
            "object_id": oid,
            "index": index,
            "status": "done",
            "num_parts": meta.get("num_parts"),
            "num_faces": meta["num_faces"],
            "views": views,
            "seconds": round(time.perf_counter() - t0, 4),
        }

    def make_files(self, index: int) -> tuple[str, dict[str, bytes], dict[str, Any], int]:
        """Object ``index``: (object id, its files by relative path, its meta, views rendered) —
        exactly what is written into its folder (``meta.json`` is ``meta`` as JSON)."""
        if self.inputs is None:
            asset = self.composer.build(self.seed, index)
        else:
            compose = self.run.generate.compose
            asset = load_mesh_asset(self.inputs[index], compose.normalized_size, compose.mesh_up)
            asset.meta.update({"seed": self.seed, "index": index, "config_hash": self.run.hash()})
        out = self.run.generate.output
        # a table of colours, a texel each, is written exactly: JPEG would blur each texel into its neighbours
        texture_format = "png" if COLOUR_TABLE in asset.meta else out.mesh_texture
        quality = out.jpeg_quality if texture_format == "jpeg" else out.png_compress_level
        timings = asset.meta["timings"]

        def encode_mesh() -> tuple[bytes, float]:
            t1 = time.perf_counter()
            return encode_glb(asset, texture_format, quality), time.perf_counter() - t1

        views = 0
        files: dict[str, bytes] = {}
        if self.renderer is None:
            files["mesh.glb"], timings["encode_mesh"] = encode_mesh()
        else:  # the GLB is encoded on the render stage's threads while the views render
            mesh = self.renderer.pool.submit(encode_mesh)
            t1 = time.perf_counter()
            rendered, images, render_meta = self.renderer.render_and_encode(asset, camera_stream(self.seed, index))
            files["mesh.glb"], timings["encode_mesh"] = mesh.result()
            files.update(images)
            timings["render_and_encode"] = time.perf_counter() - t1
            timings.update({f"render.{step}": seconds for step, seconds in rendered.timings.items()})
            asset.meta["render"] = render_meta
            views = len(rendered.rgba)
        oid = self.object_id(index)
        asset.meta["object_id"] = oid
        return oid, files, asset.meta, views

    @property
    def renderer(self) -> RenderStage | None:
        """The render stage (renderer, camera sampler), made on first use: a GL context is
        created only in the process that renders."""
        if self._renderer is None and self.run.generate.render.enabled:
            self._renderer = RenderStage(self.run, get_registries())
        return self._renderer

    def object_id(self, index: int) -> str:
        return object_id(index) if self._input_ids is None else self._input_ids[index]


def make_composer(run: RunConfig, registries):
    """The run's composer, set up with an instance of every component the config selects (the
    configs were validated at load time; a component that refuses its config fails here, before
    any output)."""
    def instances(kind: str) -> dict[str, Any]:
        registry = registries.kind(kind)
        return {name: registry.get(name).factory(cfg) for name, cfg in run.components.get(kind, {}).items()}

    components = {kind: instances(kind) for kind in ("primitives", "textures", "augmentations")}
    for by_name in components.values():
        for instance in by_name.values():
            instance.use_components(components)
    augmentations = [(name, components["augmentations"][name]) for name in run.generate.augment.apply]
    composer = registries.composers.get(run.composer_name).factory(run.composer)
    composer.setup(ComposeContext(components, augmentations, run.generate.compose.normalized_size,
                                  run.hash(), registries))
    return composer


def input_object_ids(inputs: list[str]) -> list[str]:
    """Folder names of input meshes: their file stems; where a stem repeats (GSO's ``NAME/meshes/model.obj``),
    the folders that tell those files apart (``NAME``: what their paths below the inputs' common folder hold
    besides the parts they all end with). Made safe (``..glb`` or ``a b.obj`` never name a folder outside
    the dataset; see :func:`~lrmzero.dataset.safe_object_id`), and unique with the index where still
    repeated."""
    paths = [Path(p).absolute() for p in inputs]
    common = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    by_stem: dict[str, list[int]] = {}
    for i, p in enumerate(paths):
        by_stem.setdefault(p.stem, []).append(i)
    names = [p.stem for p in paths]
    for stem, group in by_stem.items():
        if len(group) < 2:
            continue
        parts = [list(paths[i].relative_to(common).with_suffix("").parts) for i in group]
        shared = 0  # how many trailing parts all of the group's paths end with
        while all(len(q) > shared + 1 for q in parts) and len({q[-1 - shared] for q in parts}) == 1:
            shared += 1
        told_apart = ["-".join(q[: len(q) - shared]) for q in parts]
        if len(set(told_apart)) == len(group):  # else (model.obj beside model.ply) the stem and the index
            for i, name in zip(group, told_apart):
                names[i] = name
    ids = [safe_object_id(name, f"mesh-{i:06d}") for i, name in enumerate(names)]
    counts = Counter(ids)
    return [oid if counts[oid] == 1 else f"{oid}-{i:06d}" for i, oid in enumerate(ids)]


_JOBS: dict[tuple, ObjectJob] = {}


def _job_key(spec: ObjectJobSpec) -> tuple:
    return (spec.run.hash(), spec.seed, spec.out, spec.inputs)


def run_object(spec: ObjectJobSpec, index: int) -> dict[str, Any]:
    """Make and write object ``index`` of the run ``spec`` describes; returns its manifest record.

    What executors call in their workers: each process keeps one :class:`ObjectJob` per run (its
    components, its GL context), made on first use.
    """
    key = _job_key(spec)
    job = _JOBS.get(key)
    if job is None:
        inputs = None if spec.inputs is None else list(spec.inputs)
        job = _JOBS[key] = ObjectJob(spec.run, spec.seed, spec.out, inputs)
    return job(index)


def check_run_arguments(num_objects: int, seed: int, workers: int) -> None:
    """Refuse a count, seed or worker count no run can use, before anything is written.

    Raises:
        ConfigError: naming the option, the value and what is allowed.
    """
    if num_objects < 0:
        raise ConfigError(f"--num-objects: got {num_objects}; allowed: >= 0")
    if seed < 0:  # numpy's SeedSequence, which each object's randomness comes from, takes none below 0
        raise ConfigError(f"--seed: got {seed}; allowed: an integer >= 0")
    if workers < 1:
        raise ConfigError(f"--workers: got {workers}; allowed: >= 1")


def objects_to_make(writer: DatasetWriter, indices: list[int], oid_of: Callable[[int], str],
                    done_elsewhere: set[str] | frozenset[str]) -> list[int]:
    """The ``indices`` whose objects are neither finished in ``writer``'s folder nor ``done_elsewhere``;
    a finished object the manifest lacks (the run stopped before its line) gets its line."""
    listed = writer.manifest_ids()
    todo = []
    for i in indices:
        oid = oid_of(i)
        if oid in done_elsewhere:
            continue
        if writer.is_done(oid):
            if oid not in listed:
                meta = json.loads((writer.object_dir(oid) / "meta.json").read_text())
                writer.append_manifest({"object_id": oid, "index": i, "status": "done",
                                        "num_parts": meta.get("num_parts")})
            continue
        todo.append(i)
    return todo


def generate_dataset(
    run: RunConfig,
    out: str | Path,
    num_objects: int,
    seed: int,
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    inputs: list[str] | None = None,
    done_elsewhere: set[str] | frozenset[str] = frozenset(),
    label: str | None = None,
) -> Summary:
    """Generate objects ``[0, num_objects)`` of shard ``shard`` into ``out``.

    Each object depends only on (seed, index), so any split over workers and shards gives the same
    bytes. Finished objects are skipped; a failing object is retried (``execute.retries``), then
    recorded as failed in the manifest and the run goes on. Ctrl-C stops after cancelling queued
    work; what finished stays, and re-running the command resumes. The run's executor
    (``execute.executor``) decides where the objects are made, with ``workers`` workers.

    Args:
        inputs: mesh files to render instead of composing objects (``lrmzero render``).
        done_elsewhere: object ids already finished outside ``out`` (packed into shards): skipped.
        label: the dataset's name on the progress bar (default: ``out``'s folder name).
    """
    if inputs is not None:
        num_objects = len(inputs)
    check_run_arguments(num_objects, seed, workers)
    registries = get_registries()
    name = run.generate.execute.executor
    executor = registries.executors.get(name).factory(run.components["executors"][name])
    executor.check()
    out = str(out)
    # components that refuse their config fail here, before any output
    composer = make_composer(run, registries) if inputs is None else None
    spec = ObjectJobSpec(run_object, run, seed, out, None if inputs is None else tuple(inputs),
                         run.generate.execute.retries)
    if composer is not None:  # the check above built one here: reuse it when objects are made here
        _JOBS[_job_key(spec)] = ObjectJob(run, seed, out, None, composer)
    writer = DatasetWriter(out)
    writer.prepare({"seed": seed, "config_hash": run.hash()}, config_yaml(run))
    command = "generate" if inputs is None else "render"

    def refusal(holder: str) -> ConfigError:
        return ConfigError(f"--shard: {shard[0]}/{shard[1]} of --out {out!r} is being made by another lrmzero "
                           f"{command}{holder}; allowed: another --shard or --out, or wait for that run to end "
                           "(the same command then resumes where it stopped)")

    # one process per shard of a folder: a second copy of the job would remove the first one's objects
    # in the making (as an interrupted run's leftovers) and make every object twice
    with hold_lock(Path(out) / f".lock-shard-{shard[0]}-of-{shard[1]}", refusal,
                   f"--out: a second lrmzero {command} of this shard would not be refused"):
        indices = shard_indices(num_objects, shard)
        input_ids = None if inputs is None else input_object_ids(inputs)
        oid_of = object_id if input_ids is None else input_ids.__getitem__
        writer.clean_stale({oid_of(i) for i in indices})
        summary = Summary()
        todo = objects_to_make(writer, indices, oid_of, done_elsewhere)
        summary.skipped = len(indices) - len(todo)

        bar = tqdm(total=len(indices), initial=summary.skipped, unit="obj", disable=not progress,
                   desc=f"{command} {label or Path(out).name}", dynamic_ncols=True)
        start = time.perf_counter()

        def record(result: dict[str, Any]) -> None:
            writer.append_manifest(result)
            if result["status"] == "done":
                summary.done += 1
            else:
                summary.failed += 1
                summary.failures.append(result)
                tqdm.write(f"object {result['object_id']} failed: {result['error']}", file=sys.stderr)
            bar.update(1)
            if on_result:
                on_result(result)

        def failed(index: int, exc: BaseException) -> dict[str, Any]:
            return {
                "object_id": oid_of(index),
                "index": index,
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
            }

        try:
            executor.run(spec, todo, workers, record, failed)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (the CLI raises lrmzero.errors.Terminated)
            summary.interrupted = True
            summary.exit_code = getattr(exc, "exit_code", 130)
        finally:
            bar.close()
            summary.seconds = time.perf_counter() - start
        return summary
