"""Dataset folders on disk: atomic per-object writes, the manifest, and the run's identity."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lrmzero.errors import ConfigError

MANIFEST = "manifest.jsonl"
RUN_FILE = "run.json"
DONE_MARKER = "meta.json"  # written last inside the temp folder; a folder with it is complete
TMP_PREFIX = ".tmp-"


class DatasetWriter:
    """Writes ``<root>/<object_id>/`` folders atomically and appends to ``<root>/manifest.jsonl``.

    An object's files are written into ``<root>/.tmp-<object_id>-XXXX/`` and renamed into place in
    one step, so a crash never leaves a half object that looks finished. Re-running skips finished
    objects; a finished object missing from the manifest (crash between rename and append) is added.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def prepare(self, identity: dict[str, Any], config_yaml: str) -> None:
        """Create the folder, or check that it holds the same run (seed and config hash)."""
        self.root.mkdir(parents=True, exist_ok=True)
        run_file = self.root / RUN_FILE
        if run_file.exists():
            existing = json.loads(run_file.read_text())
            for key, value in identity.items():
                if existing.get(key) != value:
                    raise ConfigError(
                        f"--out: {str(self.root)!r} holds a run with {key}={existing.get(key)!r}, "
                        f"this one has {key}={value!r}; use another --out or the same settings"
                    )
        else:
            write_atomic(run_file, json.dumps(identity, indent=2, sort_keys=True).encode())
            write_atomic(self.root / "config.yaml", config_yaml.encode())

    def object_dir(self, object_id: str) -> Path:
        return self.root / object_id

    def is_done(self, object_id: str) -> bool:
        return (self.root / object_id / DONE_MARKER).is_file()

    def clean_stale(self, object_ids: set[str]) -> int:
        """Remove temp folders left by an interrupted run for these objects; returns how many."""
        removed = 0
        for path in self.root.glob(TMP_PREFIX + "*"):
            oid = path.name[len(TMP_PREFIX) :].rsplit("-", 1)[0]
            if oid in object_ids:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    def write_object(self, object_id: str, files: dict[str, bytes], meta: dict[str, Any]) -> Path:
        """Write ``files`` (relative path -> bytes) and ``meta.json`` as one atomic folder."""
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{object_id}-", dir=self.root))
        try:
            for rel, data in files.items():
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            (tmp / DONE_MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True))
            final = self.object_dir(object_id)
            if final.exists():  # an unfinished folder from an older layout: replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def manifest_ids(self) -> set[str]:
        return {r["object_id"] for r in read_manifest(self.root) if r.get("status") == "done"}

    def append_manifest(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.root / MANIFEST, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


def read_manifest(root: str | Path) -> list[dict[str, Any]]:
    """Records of ``manifest.jsonl`` (a torn last line from a crash is ignored)."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
