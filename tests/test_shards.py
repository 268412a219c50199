"""Shards: pack a folder dataset, read it back byte for byte through the index and with plain
webdataset code and with Hugging Face datasets, resume a packing, and report a truncated shard with the shard and member."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from lrmzero.dataset_check import check_dataset
from lrmzero.plugins.generation.config import load_config
from lrmzero.shards import member_field, pack_dataset, read_index
from tests.conftest import run_cli, small_dataset


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("shard_src"), 5, 3, "render.views=3", "render.resolution=32")


def object_files(folder):
    return {member_field(p.relative_to(folder).as_posix()): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_pack_then_read_gives_the_same_bytes(folders, tmp_path):
    res = run_cli("pack", str(folders), "--out", str(tmp_path / "s"), "--objects-per-shard", "2")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "s").glob("*.tar")) == [f"shard-00000{i}.tar" for i in range(3)]
    objects = read_index(tmp_path / "s")
    assert [o.object_id for o in objects] == [f"{i:08d}" for i in range(5)]
    for obj in objects:
        expected = object_files(folders / obj.object_id)
        assert set(obj.members) == set(expected)
        assert all(obj.read(field) == data for field, data in expected.items())
    report = check_dataset(tmp_path / "s")
    assert report.ok and report.objects == 5 and report.views == 15
    res = run_cli("pack", str(folders) + "/", "--out", str(folders))  # into itself: refused, nothing written
    assert res.returncode == 2 and f"--out: {str(folders)!r} is the dataset itself; allowed: another folder" in res.stderr
    assert not (folders / "index.json").exists()


def test_the_index_keeps_members_in_a_shared_memory_mapped_table_and_old_indexes_still_read(folders, tmp_path):
    import numpy as np

    from lrmzero.shards import shard_entries

    out = tmp_path / "s"
    pack_dataset(folders, out, objects_per_shard=2)
    index = json.loads((out / "index.json").read_text())
    # object ids per shard and the member names once: no member of any object in the JSON
    assert index["format"] == "lrmzero-shards-2" and index["table"] == "index.npy"
    assert [s["objects"] for s in index["shards"]] == [["00000000", "00000001"], ["00000002", "00000003"], ["00000004"]]
    assert "rgba.000.png" in index["members"] and (out / "index.json").read_text().count('"rgba.000.png"') == 1
    table = np.load(out / "index.npy")
    assert table.shape == (5, len(index["members"]), 2) and table.dtype == np.int64
    objects = read_index(out)
    assert isinstance(objects[0].members, Mapping) and not isinstance(objects[0].members, dict)
    assert all(isinstance(o.members._table, np.memmap) and o.members._table is objects[0].members._table
               for o in objects)  # one memory map for the whole dataset, in the page cache
    # the format before (every object's members inline in index.json) reads the same objects
    assert shard_entries(out)[1] == {"file": "shard-000001.tar", "images": "png", "objects": ["00000002", "00000003"]}
    full = [json.loads((out / f"shard-00000{n}.json").read_text()) for n in range(3)]  # members, per shard
    (out / "index.json").write_text(json.dumps({"format": "lrmzero-shards-1", "shards": full}))
    (out / "index.npy").unlink()
    old = read_index(out)
    assert [o.object_id for o in old] == [o.object_id for o in objects]
    for a, b in zip(old, objects):
        assert dict(a.members) == dict(b.members) and len(a.members) == len(b.members)
        assert all(a.read(field) == b.read(field) for field in a.members)
    assert "alpha.000.png" not in objects[0].members and "nope" not in objects[0].members


def test_plain_webdataset_reads_a_shard(folders, tmp_path):
    import webdataset as wds

    pack_dataset(folders, tmp_path / "s", objects_per_shard=8)
    samples = list(wds.WebDataset(str(tmp_path / "s" / "shard-000000.tar"), shardshuffle=False))
    assert [s["__key__"] for s in samples] == [f"{i:08d}" for i in range(5)]
    first = samples[0]
    cameras = json.loads(first["cameras.json"])
    assert len(cameras["frames"]) == 3
    field = member_field(cameras["frames"][1]["file_path"])
    assert first[field] == (folders / "00000000" / cameras["frames"][1]["file_path"]).read_bytes()


def test_hugging_face_datasets_reads_a_shard(folders, tmp_path, monkeypatch):
    """`datasets.load_dataset("webdataset", ...)` opens a shard with no lrmzero code: one row per
    object, PNG members decoded to the same pixels, cameras JSON parsed to the same numbers."""
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed (pip install -e '.[test]')")
    import numpy as np
    from PIL import Image

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    pack_dataset(folders, tmp_path / "s", objects_per_shard=8)
    rows = datasets.load_dataset("webdataset", data_files={"train": [str(tmp_path / "s" / "shard-000000.tar")]},
                                 split="train", cache_dir=str(tmp_path / "hf_cache"))
    assert rows["__key__"] == [f"{i:08d}" for i in range(5)]
    for row in rows:
        folder = folders / row["__key__"]
        expected = json.loads((folder / "opencv_cameras.json").read_text())
        assert row["cameras.json"]["frames"] == expected["frames"]
        for frame in expected["frames"]:
            decoded = np.asarray(row[member_field(frame["file_path"])])
            assert decoded.shape == (32, 32, 4)
            assert np.array_equal(decoded, np.asarray(Image.open(folder / frame["file_path"])))


def test_packing_resumes_and_is_deterministic(folders, tmp_path):
    out = tmp_path / "s"
    assert pack_dataset(folders, out, objects_per_shard=2) == (3, 0)
    before = (out / "shard-000001.tar").read_bytes()
    (out / "shard-000001.tar").unlink()  # as if the run died while writing it
    assert pack_dataset(folders, out, objects_per_shard=2) == (1, 2)
    assert (out / "shard-000001.tar").read_bytes() == before
    threaded = tmp_path / "t"  # shards written side by side: the same bytes, the same index
    assert pack_dataset(folders, threaded, objects_per_shard=2, image_format="png", workers=3) == (3, 0)
    for name in ("index.json", "shard-000000.tar", "shard-000001.tar", "shard-000002.tar"):
        assert (threaded / name).read_bytes() == (out / name).read_bytes(), name


def test_a_truncated_shard_is_reported_with_the_shard_and_member(folders, tmp_path):
    out = tmp_path / "s"
    pack_dataset(folders, out, objects_per_shard=8)
    shard = out / "shard-000000.tar"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) * 2 // 3])
    report = check_dataset(out)
    assert not report.ok
    lines = report.lines()
    assert any("shard-000000.tar" in line and "cut short" in line and "the shard is truncated" in line for line in lines)
    res = run_cli("validate", str(out))
    assert res.returncode == 1 and "shard-000000.tar" in res.stdout


def test_training_from_shards_equals_training_from_folders(folders, tmp_path):
    import torch

    from lrmzero import get_registries
    from lrmzero.plugins.trainers.lightning.config import load_train_config
    from lrmzero.plugins.trainers.lightning.train import train

    pack_dataset(folders, tmp_path / "s", objects_per_shard=2)
    cfg = lambda: load_train_config("tiny", None, ["data.batch_size=1", "data.input_views=2",  # noqa: E731
                                                   "data.target_views=3", "data.resolution=16",
                                                   "optim.warmup_steps=1"], get_registries())[0]
    a = train([str(folders)], tmp_path / "ra", cfg(), max_steps=3, progress=False)
    b = train([str(tmp_path / "s")], tmp_path / "rb", cfg(), max_steps=3, progress=False)
    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    res = run_cli("eval", "--checkpoint", str(b), "--data", str(tmp_path / "s"), "--views-in", "2")
    assert res.returncode == 0, res.stderr


def test_jpeg_shards_keep_alpha_exactly_and_colour_within_tolerance(folders, tmp_path):
    import numpy as np

    from lrmzero.plugins.trainers.lightning.data.dataset import ObjectViews, ViewSelection
    from lrmzero.plugins.trainers.lightning.data.sources import find_objects

    res = run_cli("pack", str(folders), "--out", str(tmp_path / "j"), "--image-format", "jpeg")
    assert res.returncode == 0, res.stderr
    assert check_dataset(tmp_path / "j").ok
    select = ViewSelection(2, 3, 32, fixed=True)
    png = ObjectViews(find_objects(folders), select)
    jpeg = ObjectViews(find_objects(tmp_path / "j"), select)
    assert "rgba.000.jpg" in jpeg.objects[0].members and "alpha.000.png" in jpeg.objects[0].members
    for i in range(len(png)):
        a, b = png[i]["views"].numpy().astype(int), jpeg[i]["views"].numpy().astype(int)
        assert np.array_equal(a[:, 3], b[:, 3])  # alpha: lossless
        seen = a[:, 3:] > 0
        diff = np.abs(a[:, :3] - b[:, :3])[np.broadcast_to(seen, a[:, :3].shape)]
        # stated tolerance at quality 95, 4:4:4, on these 32 px views of fine procedural texture:
        # mean colour error under 4/255, none beyond 32/255 (measured with PBR materials: 2.6 and 26)
        assert diff.mean() < 4.0 and diff.max() <= 32, (diff.mean(), diff.max())
    # lrmzero's own JPEG view that lost its alpha is skipped (with a warning), not read as opaque
    from lrmzero.shards import ShardObject

    obj = jpeg.objects[0]
    members = {k: v for k, v in obj.members.items() if not k.startswith("alpha.")}
    broken = ObjectViews([ShardObject(obj.shard, obj.object_id, members)], select)
    assert broken[0] is None


def test_shards_behind_an_fsspec_url_read_like_local_ones(folders, tmp_path):
    """fsspec's in-memory filesystem stands in for object storage (s3://, gs://, https://)."""
    import fsspec
    import torch

    from lrmzero import get_registries
    from lrmzero.plugins.trainers.lightning.config import load_train_config
    from lrmzero.plugins.trainers.lightning.data.sources import find_objects
    from lrmzero.plugins.trainers.lightning.train import train

    pack_dataset(folders, tmp_path / "s", objects_per_shard=2)
    fs = fsspec.filesystem("memory")
    for path in (tmp_path / "s").iterdir():
        fs.pipe(f"/bucket/shards/{path.name}", path.read_bytes())
    url = "memory://bucket/shards"
    remote = find_objects(url)
    assert [o.object_id for o in remote] == [f"{i:08d}" for i in range(5)]
    assert remote[3].read("rgba.001.png") == (folders / "00000003" / "rgba" / "001.png").read_bytes()
    assert check_dataset(url).ok
    # a check of shards behind a URL is recorded in the user's cache (the session's, in these tests)
    from lrmzero.dataset_check import dataset_fingerprint, matching_record, write_record

    fingerprint = dataset_fingerprint(url)
    recorded = write_record(url, check_dataset(url), True, fingerprint)
    assert recorded is not None and matching_record(url, True, fingerprint)["objects"] == 5
    cfg = lambda: load_train_config("tiny", None, ["data.batch_size=1", "data.input_views=2",  # noqa: E731
                                                   "data.target_views=3", "data.resolution=16"], get_registries())[0]
    a = train([str(tmp_path / "s")], tmp_path / "ra", cfg(), max_steps=2, progress=False)
    b = train([url], tmp_path / "rb", cfg(), max_steps=2, progress=False)
    sa, sb = (torch.load(p, weights_only=True)["state_dict"] for p in (a, b))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    fs.rm("/bucket/shards/shard-000001.tar")
    assert dataset_fingerprint(url) != fingerprint and matching_record(url, True, dataset_fingerprint(url)) is None
    report = check_dataset(url)
    assert not report.ok and any("shard-000001.tar" in line for line in report.lines())


def test_generate_writes_shards_directly_and_resumes_after_an_interruption(folders, tmp_path, monkeypatch):
    from lrmzero.errors import ConfigError
    from lrmzero.plugins.generation import runner
    from lrmzero.plugins.generation.to_shards import generate_shards

    run = load_config("demo", ["render.views=3", "render.resolution=32", "render.renderer=raycast",
                               "render.shading=lambert", "render.levels=false"])  # as the `folders` fixture
    real = runner.ObjectJob.__call__

    def interrupted(self, index):
        if index == 3:
            raise KeyboardInterrupt  # Ctrl-C while object 3 is made
        return real(self, index)

    monkeypatch.setattr(runner.ObjectJob, "__call__", interrupted)
    out = tmp_path / "s"
    summary = generate_shards(run, out, 5, seed=3, progress=False, objects_per_shard=2)
    assert summary.interrupted
    assert [o.object_id for o in read_index(out)] == ["00000000", "00000001"]  # shard 0 only: 2 and 3 pending
    assert (out / ".objects" / "00000002").is_dir() and not (out / ".objects" / "00000000").exists()
    monkeypatch.undo()
    summary = generate_shards(run, out, 5, seed=3, progress=False, objects_per_shard=2)
    assert summary.done == 2 and summary.skipped == 3  # 0 and 1 packed, 2 staged: only 3 and 4 made
    objects = read_index(out)
    assert [o.object_id for o in objects] == [f"{i:08d}" for i in range(5)]
    for obj in objects:  # the same objects as `generate` writes into folders
        expected = object_files(folders / obj.object_id)
        assert all(obj.read(f) == data for f, data in expected.items() if f != "meta.json")
    assert check_dataset(out).ok and not any((out / ".objects").glob("0*"))
    with pytest.raises(ConfigError, match="--num-objects/--objects-per-shard: shard-000002.tar"):
        generate_shards(run, out, 6, seed=3, progress=False, objects_per_shard=2)
    res = run_cli("generate", "--out", str(tmp_path / "x"), "--num-objects", "2", "--seed", "0", "--format",
                  "shards", "--shard", "1/2", "--quiet")
    assert res.returncode == 2 and "--format shards: got --shard 1/2" in res.stderr


def test_an_interrupted_threaded_map_drops_the_items_not_started():
    """pack --workers and validate --workers submit a chunk of items at a time: a Ctrl-C or SIGTERM
    must not wait for the whole chunk (for pack, up to 1024 shards of hours' work)."""
    import threading
    import time

    from lrmzero.threads import map_in_threads

    ran, lock = [], threading.Lock()

    def slow(i):
        with lock:
            ran.append(i)
        time.sleep(0.05)
        return i

    results = map_in_threads(slow, list(range(200)), workers=2)
    assert [next(results) for _ in range(4)] == [0, 1, 2, 3]  # in order
    with pytest.raises(KeyboardInterrupt):
        results.throw(KeyboardInterrupt)
    assert len(ran) <= 8
    assert list(map_in_threads(lambda i: i * i, list(range(5)), workers=1, chunk=2)) == [0, 1, 4, 9, 16]
