"""A model set's files in one directory (the live MODEL_DIR, a version, a backup): the four models and
metadata.json, whose `sha256` manifest every load checks; writing a set durably, reading it back, and the small
file operations (atomic JSON, fsync, read-only copies) the registry builds on."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import stat
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as metadata_version
from pathlib import Path
from typing import Any

import joblib

from pipeline.errors import ModelLoadError
from pipeline.forecast.legacy_sets import LEGACY_MODULES, alias_legacy_modules

MODEL_FILES = {
    "elo": "elo.joblib",
    "dixon_coles": "dixon_coles.joblib",
    "xgboost": "xgboost.joblib",
    "ensemble": "stacking_ensemble.joblib",
}
METADATA = "metadata.json"
LIVE_FILES = [*MODEL_FILES.values(), METADATA]
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass
class Deployed:
    objects: dict[str, Any]
    metadata: dict
    path: Path
    # set when the live files were copied by hand from this backup (or version) and nobody has recorded it yet
    copied_from: Path | None = None

    @property
    def version(self) -> str:
        return self.metadata["version"]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def library_versions() -> dict:
    """The installed versions of the libraries a set's pickles depend on (from the packages' metadata: reading
    them costs nothing, importing scikit-learn and XGBoost to ask them costs a second)."""

    def installed(*distributions: str) -> str | None:
        for name in distributions:
            try:
                return metadata_version(name)
            except PackageNotFoundError:
                continue
        return None

    return {
        "python": platform.python_version(),
        "numpy": installed("numpy"),
        "pandas": installed("pandas"),
        "scipy": installed("scipy"),
        "scikit-learn": installed("scikit-learn"),
        "xgboost": installed("xgboost", "xgboost-cpu"),
        "joblib": installed("joblib"),
    }


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def sums(path: Path) -> dict[str, str | None]:
    """sha256 of each model file in `path` (None for a missing one)."""
    return {name: sha256(path / name) if (path / name).is_file() else None for name in MODEL_FILES.values()}


def manifest_sums(metadata: dict | None) -> dict | None:
    """The model files' checksums a metadata.json (or the registry's `.live`) lists, or None."""
    listed = (metadata or {}).get("sha256")
    return {n: listed.get(n) for n in MODEL_FILES.values()} if isinstance(listed, dict) else None


def load_objects(path: Path) -> dict[str, Any]:
    """Unpickle the four models in `path` (a set pickled under the old module paths too)."""
    objects = {}
    for key, name in MODEL_FILES.items():
        try:
            try:
                objects[key] = joblib.load(path / name)
            except ModuleNotFoundError as exc:
                if exc.name not in LEGACY_MODULES:
                    raise
                alias_legacy_modules()  # only then: the aliases import every model (and scikit-learn)
                objects[key] = joblib.load(path / name)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing here
            raise ModelLoadError(f"model file {name} cannot be loaded: {type(exc).__name__}") from None
    return objects


def check_against(path: Path, metadata: dict, found: dict | None = None) -> None:
    """Every model file in `path` is there and matches the checksum `metadata` lists, else ModelLoadError."""
    found = found or sums(path)
    expected = manifest_sums(metadata) or {}
    for name in MODEL_FILES.values():
        if found[name] is None:
            raise ModelLoadError(f"model file {name} is missing from {path}")
        if expected.get(name) != found[name]:
            raise ModelLoadError(
                f"model file {name} does not match its checksum in {METADATA} "
                f"(corrupt or tampered); restore with weekly_training.py --rollback"
            )


def load_set(path: Path) -> Deployed:
    """A complete set in one directory (a version, a backup), its checksums verified."""
    meta_file = path / METADATA
    try:
        metadata = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"{meta_file} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{meta_file} is corrupt ({exc})") from None
    check_against(path, metadata)
    return Deployed(load_objects(path), metadata, path)


def set_is_sound(path: Path) -> bool:
    """The set in `path` has every file and each matches its checksum (nothing is unpickled)."""
    meta = read_json(path / METADATA)
    try:
        check_against(path, meta or {})
    except ModelLoadError:
        return False
    return meta is not None


def write_set(dest: Path, objects: dict[str, Any], metadata: dict) -> dict:
    """Pickle `objects` into the new directory `dest` with a metadata.json listing their checksums, all fsynced.
    Returns the metadata written."""
    dest.mkdir(parents=True)
    written = {}
    for key, name in MODEL_FILES.items():
        joblib.dump(objects[key], dest / name)
        with open(dest / name, "rb+") as fh:
            os.fsync(fh.fileno())
        written[name] = sha256(dest / name)
    metadata = dict(metadata, sha256=written)
    with open(dest / METADATA, "w") as fh:
        json.dump(metadata, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(dest)
    return metadata


def copy_file(src: Path, dest: Path, when: float | None = None) -> None:
    """Copy src to dest through a temporary name and one atomic rename (a symlink at dest is replaced)."""
    tmp = dest.with_name(f".{dest.name}.new")
    tmp.unlink(missing_ok=True)
    shutil.copyfile(src, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    if when is not None:
        os.utime(tmp, (when, when))
    os.replace(tmp, dest)


def freeze(path: Path) -> None:
    """Make a written set's files read-only (versions and backups never change afterwards)."""
    for name in LIVE_FILES:
        if (path / name).is_file():
            os.chmod(path / name, READ_ONLY)


__all__ = [
    "MODEL_FILES",
    "METADATA",
    "LIVE_FILES",
    "Deployed",
    "sha256",
    "fsync_dir",
    "library_versions",
    "read_json",
    "write_json",
    "sums",
    "manifest_sums",
    "load_objects",
    "check_against",
    "load_set",
    "set_is_sound",
    "write_set",
    "copy_file",
    "freeze",
]
