"""The model registry: the deployed set in MODEL_DIR, its backups, atomic deploys and rollbacks.

Layout of MODEL_DIR:

    current -> versions/<version>        the live set (a symlink, switched with one atomic rename)
    elo.joblib -> current/elo.joblib     stable names for people and tools (symlinks through `current`)
    ... dixon_coles.joblib, xgboost.joblib, stacking_ensemble.joblib, metadata.json
    versions/<version>/                  complete sets: the four joblib files and metadata.json
    backup_YYYYmmdd_HHMMSS/              a copy of the live set taken before each deploy or rollback

A deploy writes the new set into `versions/<version>.tmp`, fsyncs it, checks that it loads (checksums) and
predicts, renames it into place, then swaps `current`. A crash at any moment leaves `current` pointing at a
complete set, old or new, never a mix. metadata.json records a sha256 for every file; loading refuses a
missing, corrupt or tampered file.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import joblib

MODEL_FILES = {"elo": "elo.joblib", "dixon_coles": "dixon_coles.joblib", "xgboost": "xgboost.joblib",
               "ensemble": "stacking_ensemble.joblib"}
METADATA = "metadata.json"
BACKUP_PREFIX = "backup_"


class ModelLoadError(Exception):
    """No deployed set, or a file that is missing, corrupt or does not match its checksum."""


@dataclass
class Deployed:
    objects: dict[str, Any]
    metadata: dict
    path: Path

    @property
    def version(self) -> str:
        return self.metadata["version"]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def library_versions() -> dict:
    import numpy, pandas, scipy, sklearn, xgboost  # noqa: E401
    return {"python": platform.python_version(), "numpy": numpy.__version__, "pandas": pandas.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__, "xgboost": xgboost.__version__,
            "joblib": joblib.__version__}


def live_path(model_dir: Path) -> Path | None:
    link = model_dir / "current"
    if not link.is_symlink() and not link.exists():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


# Model sets deployed before the package was laid out by stage name their classes by the old module paths.
LEGACY_MODULES = {"pipeline.models": "pipeline.forecast.models",
                  **{f"pipeline.models.{m}": f"pipeline.forecast.models.{m}"
                     for m in ("elo", "dixon_coles", "xgb", "ensemble")}}


def _alias_legacy_modules() -> None:
    for old, new in LEGACY_MODULES.items():
        sys.modules.setdefault(old, importlib.import_module(new))


def load_set(path: Path) -> Deployed:
    _alias_legacy_modules()
    meta_file = path / METADATA
    try:
        metadata = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"{meta_file} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{meta_file} is corrupt ({exc})") from None
    objects = {}
    for key, name in MODEL_FILES.items():
        f = path / name
        expected = metadata.get("sha256", {}).get(name)
        if not f.is_file():
            raise ModelLoadError(f"model file {name} is missing from {path}")
        if expected is None or sha256(f) != expected:
            raise ModelLoadError(f"model file {name} does not match its checksum in {METADATA} "
                                 f"(corrupt or tampered); restore with weekly_training.py --rollback")
        try:
            objects[key] = joblib.load(f)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing here
            raise ModelLoadError(f"model file {name} cannot be loaded: {type(exc).__name__}") from None
    return Deployed(objects, metadata, path)


def load_deployed(model_dir: Path) -> Deployed:
    path = live_path(model_dir)
    if path is None:
        raise ModelLoadError(f"no deployed models in {model_dir}: run production/weekly_training.py first")
    return load_set(path)


def _write_set(dest: Path, objects: dict[str, Any], metadata: dict) -> dict:
    dest.mkdir(parents=True)
    sums = {}
    for key, name in MODEL_FILES.items():
        joblib.dump(objects[key], dest / name)
        with open(dest / name, "rb+") as fh:
            os.fsync(fh.fileno())
        sums[name] = sha256(dest / name)
    metadata = dict(metadata, sha256=sums)
    with open(dest / METADATA, "w") as fh:
        json.dump(metadata, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(dest)
    return metadata


def _switch(model_dir: Path, target: Path) -> None:
    """Point `current` at target with one atomic rename; make sure the stable file names exist."""
    tmp = model_dir / f".current.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target.relative_to(model_dir))
    os.replace(tmp, model_dir / "current")
    for name in [*MODEL_FILES.values(), METADATA]:
        link = model_dir / name
        if not link.is_symlink():
            if link.exists():
                link.unlink()  # a plain file from some manual copy would shadow the live set
            link.symlink_to(Path("current") / name)
    _fsync_dir(model_dir)


def _backup_live(model_dir: Path, now: datetime) -> Path | None:
    live = live_path(model_dir)
    if live is None:
        return None
    name = f"{BACKUP_PREFIX}{now.astimezone(timezone.utc):%Y%m%d_%H%M%S}"
    dest = model_dir / name
    n = 1
    while dest.exists():
        n += 1
        dest = model_dir / f"{name}_{n}"
    tmp = model_dir / f".{dest.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(live, tmp)
    _fsync_dir(tmp)
    os.replace(tmp, dest)
    return dest


def new_version(model_dir: Path, now: datetime) -> str:
    """`vYYYYmmdd_HHMMSS` of `now`, with `_2`, `_3`... when a set of that name exists (a rerun at the same time)."""
    name = f"v{now.astimezone(timezone.utc):%Y%m%d_%H%M%S}"
    version, n = name, 1
    while (model_dir / "versions" / version).exists():
        n += 1
        version = f"{name}_{n}"
    return version


def deploy(model_dir: Path, objects: dict[str, Any], metadata: dict, *, now: datetime,
           check: Callable[[Deployed], None] | None = None) -> tuple[Deployed, Path | None]:
    """Back up the live set, write the new one beside it, verify it, switch atomically.

    `check(deployed)` should predict something with the reloaded set and raise if that fails.
    Returns the deployed set and the backup path (None on a first deploy).
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "versions").mkdir(exist_ok=True)
    _clean_temporaries(model_dir)
    backup = _backup_live(model_dir, now)
    version = metadata["version"]
    final = model_dir / "versions" / version
    if final.exists():
        raise ValueError(f"model version {version} already exists in {final}")
    tmp = model_dir / "versions" / f".{version}.tmp"
    _write_set(tmp, objects, dict(metadata, libraries=library_versions()))
    loaded = load_set(tmp)
    if check is not None:
        check(loaded)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    _switch(model_dir, final)
    return load_set(final), backup


def list_backups(model_dir: Path) -> list[Path]:
    if not model_dir.is_dir():
        return []
    return sorted((p for p in model_dir.iterdir() if p.is_dir() and p.name.startswith(BACKUP_PREFIX)),
                  key=lambda p: p.name)


def rollback(model_dir: Path, timestamp: str | None, *, now: datetime) -> tuple[Deployed, Path]:
    """Restore a backup (the newest by default, or backup_<timestamp>) as the live set."""
    backups = list_backups(model_dir)
    if timestamp:
        wanted = timestamp if timestamp.startswith(BACKUP_PREFIX) else BACKUP_PREFIX + timestamp
        chosen = [b for b in backups if b.name == wanted]
        if not chosen:
            raise ModelLoadError(f"no model backup named {wanted} in {model_dir}")
        source = chosen[0]
    else:
        if not backups:
            raise ModelLoadError(f"no model backups in {model_dir} to roll back to")
        source = backups[-1]
    restored = load_set(source)  # verify before touching the live set
    version = f"{restored.version}-rollback-{now.astimezone(timezone.utc):%Y%m%d%H%M%S}"
    objects = restored.objects
    metadata = dict(restored.metadata, version=version, rolled_back_from=source.name)
    metadata.pop("sha256", None)
    deployed, _ = deploy(model_dir, objects, metadata, now=now)
    return deployed, source


def _clean_temporaries(model_dir: Path) -> None:
    """Remove half-written sets left by a crash (they were never live)."""
    for p in list((model_dir / "versions").glob(".*.tmp")) + list(model_dir.glob(f".{BACKUP_PREFIX}*.tmp")):
        shutil.rmtree(p, ignore_errors=True)


def prune(model_dir: Path, keep_backups: int) -> list[Path]:
    """Delete backups beyond the newest `keep_backups` and versions that are neither live nor backed up.

    Never removes the live set or the newest backup.
    """
    removed = []
    backups = list_backups(model_dir)
    for b in backups[:-max(1, keep_backups)]:
        shutil.rmtree(b)
        removed.append(b)
    live = live_path(model_dir)
    versions = model_dir / "versions"
    if versions.is_dir():
        kept = sorted((v for v in versions.iterdir() if v.is_dir() and not v.name.startswith(".")),
                      key=lambda v: v.stat().st_mtime)
        # keep the live version and the one before it (the previous deploy), drop older ones
        for v in kept[:-2]:
            if live is None or v.resolve() != live:
                shutil.rmtree(v)
                removed.append(v)
    return removed
