"""The model registry: the deployed set in MODEL_DIR, its backups, deploys, rollbacks and hand-made rollbacks.

Layout of MODEL_DIR:

    elo.joblib, dixon_coles.joblib, xgboost.joblib, stacking_ensemble.joblib, metadata.json
                                 the live set itself: regular files, written at deploy (their modification time
                                 is the deploy time, so `stat` and `ls -l` tell when the set went live)
    versions/<version>/          each deployed set, written once and never changed afterwards (files read-only)
    backup_YYYYmmdd_HHMMSS/      a copy of the live set taken before each deploy or rollback; only a set whose
                                 files match their checksums is ever backed up
    .live                        the checksums of the set the registry put in place (to notice a copy by hand)
    .switch                      present only while a deploy is putting a set in place
    .lock                        deploys, rollbacks and adoptions take it exclusively, loaders shared

A deploy writes the new set into `versions/.<version>.tmp`, fsyncs it, checks that it loads (checksums) and
predicts, renames it into `versions/<version>`, then copies its files over the live names one by one (each by
an atomic rename) under `.switch`: a crash part-way leaves `.switch`, and the next load or deploy finishes the
copy from the complete version directory, so a loader never uses a mix of two sets.

A rollback by hand is supported: `cp models/backup_X/*.joblib models/` replaces the live files with a backup's.
The loader recognises the copied files by their checksums against the manifests (metadata.json) of the backups
and versions, loads that set, and the next job with a store records it (model_versions action
`manual_rollback`, the job's counts) and rewrites metadata.json to match. A set that matches no single manifest
(some files from one set, some from another, or changed files) is refused with one line naming the backups
that would work.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import platform
import shutil
import stat
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as metadata_version
from pathlib import Path
from typing import Any

import joblib

MODEL_FILES = {
    "elo": "elo.joblib",
    "dixon_coles": "dixon_coles.joblib",
    "xgboost": "xgboost.joblib",
    "ensemble": "stacking_ensemble.joblib",
}
METADATA = "metadata.json"
LIVE_FILES = [*MODEL_FILES.values(), METADATA]
BACKUP_PREFIX = "backup_"
STATE = ".live"
SWITCH = ".switch"
LOCK = ".lock"
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class ModelLoadError(Exception):
    """No deployed set, or a file that is missing, corrupt or does not match its checksum."""


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


def _fsync_dir(path: Path) -> None:
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


@contextmanager
def _locked(model_dir: Path, exclusive: bool):
    """The registry lock. A model directory we may not write to (read-only mount) is read without it."""
    try:
        fh = open(model_dir / LOCK, "a+")
    except OSError:
        yield
        return
    try:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fh.close()  # closing drops the lock


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _sums(path: Path) -> dict[str, str | None]:
    """sha256 of each model file in `path` (None for a missing one)."""
    return {name: sha256(path / name) if (path / name).is_file() else None for name in MODEL_FILES.values()}


def _manifest_sums(metadata: dict | None) -> dict | None:
    sums = (metadata or {}).get("sha256")
    return {n: sums.get(n) for n in MODEL_FILES.values()} if isinstance(sums, dict) else None


def has_live_set(model_dir: Path) -> bool:
    return any((model_dir / n).is_file() for n in LIVE_FILES) or (model_dir / "current").is_symlink()


def live_path(model_dir: Path) -> Path | None:
    """The directory holding the live set's files (MODEL_DIR itself), or None when nothing is deployed."""
    return model_dir if has_live_set(model_dir) else None


def _load_objects(path: Path) -> dict[str, Any]:
    objects = {}
    for key, name in MODEL_FILES.items():
        try:
            try:
                objects[key] = joblib.load(path / name)
            except ModuleNotFoundError as exc:
                if exc.name not in LEGACY_MODULES:
                    raise
                _alias_legacy_modules()  # only then: the aliases import every model (and scikit-learn)
                objects[key] = joblib.load(path / name)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing here
            raise ModelLoadError(f"model file {name} cannot be loaded: {type(exc).__name__}") from None
    return objects


def _check_against(path: Path, metadata: dict, sums: dict | None = None) -> None:
    sums = sums or _sums(path)
    expected = _manifest_sums(metadata) or {}
    for name in MODEL_FILES.values():
        if sums[name] is None:
            raise ModelLoadError(f"model file {name} is missing from {path}")
        if expected.get(name) != sums[name]:
            raise ModelLoadError(
                f"model file {name} does not match its checksum in {METADATA} "
                f"(corrupt or tampered); restore with weekly_training.py --rollback"
            )


# Model sets deployed before the package was laid out by stage name their classes by the old module paths.
LEGACY_MODULES = {
    "pipeline.models": "pipeline.forecast.models",
    **{f"pipeline.models.{m}": f"pipeline.forecast.models.{m}" for m in ("elo", "dixon_coles", "xgb", "ensemble")},
}


def _alias_legacy_modules() -> None:
    for old, new in LEGACY_MODULES.items():
        sys.modules.setdefault(old, importlib.import_module(new))


def load_set(path: Path) -> Deployed:
    """A complete set in one directory (a version, a backup), its checksums verified."""
    meta_file = path / METADATA
    try:
        metadata = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"{meta_file} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{meta_file} is corrupt ({exc})") from None
    _check_against(path, metadata)
    return Deployed(_load_objects(path), metadata, path)


def set_is_sound(path: Path) -> bool:
    """The set in `path` has every file and each matches its checksum (nothing is unpickled)."""
    meta = _read_json(path / METADATA)
    try:
        _check_against(path, meta or {})
    except ModelLoadError:
        return False
    return meta is not None


def list_backups(model_dir: Path) -> list[Path]:
    if not model_dir.is_dir():
        return []
    return sorted(
        (p for p in model_dir.iterdir() if p.is_dir() and p.name.startswith(BACKUP_PREFIX)), key=lambda p: p.name
    )


def working_backups(model_dir: Path) -> list[Path]:
    """Backups whose files all match their checksums, newest first."""
    return [b for b in reversed(list_backups(model_dir)) if set_is_sound(b)]


def _versions(model_dir: Path) -> list[Path]:
    versions = model_dir / "versions"
    if not versions.is_dir():
        return []
    return sorted(
        (v for v in versions.iterdir() if v.is_dir() and not v.name.startswith(".")),
        key=lambda v: v.stat().st_mtime,
        reverse=True,
    )


def _fix_hint(model_dir: Path) -> str:
    good = working_backups(model_dir)
    if not good:
        return "no working backup: run weekly_training.py to train a new set"
    return (
        f"copy a whole set back (cp {model_dir.name}/{good[0].name}/*.joblib {model_dir.name}/) or run "
        f"weekly_training.py --rollback; working backups: {', '.join(b.name for b in good)}"
    )


def _recognise(model_dir: Path, sums: dict) -> tuple[Path, dict] | None:
    """The backup (newest first) or version whose manifest lists exactly these checksums."""
    for candidate in [*reversed(list_backups(model_dir)), *_versions(model_dir)]:
        meta = _read_json(candidate / METADATA)
        if _manifest_sums(meta) == sums:
            return candidate, meta
    return None


def _describe_mix(model_dir: Path, sums: dict) -> str:
    known: dict[str, str] = {}
    live = _read_json(model_dir / STATE) or _read_json(model_dir / METADATA) or {}
    for name, digest in (_manifest_sums(live) or {}).items():
        known[f"{name}:{digest}"] = f"the deployed set {live.get('version', '?')}"
    for candidate in [*reversed(list_backups(model_dir)), *_versions(model_dir)]:
        for name, digest in (_manifest_sums(_read_json(candidate / METADATA)) or {}).items():
            known.setdefault(f"{name}:{digest}", candidate.name)
    parts = []
    for name, digest in sums.items():
        if digest is None:
            parts.append(f"{name} is missing")
        else:
            parts.append(
                f"{name} from {known[f'{name}:{digest}']}"
                if f"{name}:{digest}" in known
                else f"{name} matches no known checksum"
            )
    return ", ".join(parts)


def load_deployed(model_dir: Path, *, unpickle: bool = True) -> Deployed:
    """The live set. Files copied by hand from one backup are recognised (`copied_from` says which).

    With `unpickle=False` the files are only checked (complete, one known set, checksums as recorded when the
    set was written from models that had just been validated) and `objects` is empty: for the backup, which
    copies the files and needs no machine-learning library to do it."""
    load = _load_objects if unpickle else (lambda _path: {})
    if not has_live_set(model_dir):
        raise ModelLoadError(f"no deployed models in {model_dir}: run production/weekly_training.py first")
    if (model_dir / SWITCH).exists() or (model_dir / "current").is_symlink():
        with _locked(model_dir, exclusive=True):
            _finish_interrupted_switch(model_dir)
            _convert_symlinked_layout(model_dir)
    with _locked(model_dir, exclusive=False):
        sums = _sums(model_dir)
        if all(v is None for v in sums.values()):
            raise ModelLoadError(f"no deployed models in {model_dir}: run production/weekly_training.py first")
        state = _read_json(model_dir / STATE)
        metadata = _read_json(model_dir / METADATA)
        complete = None not in sums.values()
        meta_ok = complete and _manifest_sums(metadata) == sums
        if meta_ok and (state is None or _manifest_sums(state) == sums):
            return Deployed(load(model_dir), metadata, model_dir)
        found = _recognise(model_dir, sums) if complete else None
        if found is not None:
            source, meta = found
            return Deployed(load(model_dir), meta, model_dir, copied_from=source)
        if meta_ok:  # a whole set with its own metadata.json, from no backup we know (e.g. a models_*.tar.gz)
            return Deployed(load(model_dir), metadata, model_dir, copied_from=model_dir)
        raise ModelLoadError(
            f"{model_dir}/*.joblib are not one known set ({_describe_mix(model_dir, sums)}; "
            f"checksums checked against {METADATA} and every backup): {_fix_hint(model_dir)}"
        )


def adopt_copied_set(model_dir: Path, deployed: Deployed, record: Callable[[str], None], now: datetime) -> bool:
    """Make a set copied in by hand the registry's live set: `record(note)` it once, rewrite metadata.json.

    Several jobs may notice the copy at once; the lock and the re-check make exactly one of them record it.
    Returns whether this call recorded it.
    """
    if deployed.copied_from is None:
        return False
    with _locked(model_dir, exclusive=True):
        sums = _sums(model_dir)
        if (
            _manifest_sums(_read_json(model_dir / STATE)) == sums
            and _manifest_sums(_read_json(model_dir / METADATA)) == sums
        ):
            return False  # another job got here first
        if _manifest_sums(deployed.metadata) != sums:
            return False  # the files changed again meanwhile; the next load sees them afresh
        before = (_read_json(model_dir / STATE) or {}).get("version", "?")
        origin = deployed.copied_from.name if deployed.copied_from != model_dir else "a set with its own metadata.json"
        note = f"{model_dir.name}/*.joblib copied by hand from {origin} (replacing {before})"
        record(note)
        metadata = dict(
            deployed.metadata, manual_rollback={"from": origin, "replaced": before, "noticed_at": now.isoformat()}
        )
        _write_json(model_dir / METADATA, metadata)
        _write_json(model_dir / STATE, {"version": metadata["version"], "sha256": sums})
        _fsync_dir(model_dir)
        deployed.metadata, deployed.copied_from = metadata, None
        return True


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


def _copy_file(src: Path, dest: Path, when: float | None = None) -> None:
    """Copy src to dest through a temporary name and one atomic rename (a symlink at dest is replaced)."""
    tmp = dest.with_name(f".{dest.name}.new")
    tmp.unlink(missing_ok=True)
    shutil.copyfile(src, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    if when is not None:
        os.utime(tmp, (when, when))
    os.replace(tmp, dest)


def _freeze(path: Path) -> None:
    for name in LIVE_FILES:
        if (path / name).is_file():
            os.chmod(path / name, READ_ONLY)


def _switch(model_dir: Path, source: Path, now: datetime) -> None:
    """Copy the complete set in `source` over the live names (caller holds the lock), metadata.json last."""
    relative = source.resolve().relative_to(model_dir.resolve())
    _write_json(model_dir / SWITCH, {"source": str(relative), "at": now.isoformat()})
    _fsync_dir(model_dir)
    when = now.timestamp()
    for name in LIVE_FILES:
        _copy_file(source / name, model_dir / name, when)
    meta = json.loads((model_dir / METADATA).read_text())
    _write_json(model_dir / STATE, {"version": meta.get("version"), "sha256": _manifest_sums(meta)})
    current = model_dir / "current"
    if current.is_symlink():  # the symlinked layout of earlier releases
        current.unlink()
    (model_dir / SWITCH).unlink()
    _fsync_dir(model_dir)


def _finish_interrupted_switch(model_dir: Path) -> None:
    job = _read_json(model_dir / SWITCH)
    if job is None:
        return
    source = model_dir / job.get("source", "-")
    if not job.get("source") or not set_is_sound(source):
        raise ModelLoadError(
            f"a deploy was interrupted and its set {source} is gone or damaged: {_fix_hint(model_dir)}"
        )
    _switch(model_dir, source, datetime.fromisoformat(job["at"]))


def _convert_symlinked_layout(model_dir: Path) -> None:
    """Earlier releases kept the live names as symlinks into `current`, through which `cp` wrote into a version
    directory. Replace them with regular files (when the set behind them is sound)."""
    current = model_dir / "current"
    if not current.is_symlink():
        return
    target = current.resolve()
    if set_is_sound(target):
        _switch(model_dir, target, datetime.fromtimestamp(current.lstat().st_mtime, UTC))


def _live_is_sound(model_dir: Path) -> bool:
    sums = _sums(model_dir)
    meta = _read_json(model_dir / METADATA)
    return None not in sums.values() and _manifest_sums(meta) == sums


def _backup_live(model_dir: Path, now: datetime) -> Path | None:
    """Copy the live set to backup_<now> (caller holds the lock). A set whose files do not match their
    checksums is not backed up (it would become the newest "backup" a rollback restores); an identical newest
    backup is reused."""
    if not _live_is_sound(model_dir):
        return None
    sums = _sums(model_dir)
    backups = list_backups(model_dir)
    if backups and _manifest_sums(_read_json(backups[-1] / METADATA)) == sums and set_is_sound(backups[-1]):
        return backups[-1]
    name = f"{BACKUP_PREFIX}{now.astimezone(UTC):%Y%m%d_%H%M%S}"
    dest = model_dir / name
    n = 1
    while dest.exists():
        n += 1
        dest = model_dir / f"{name}_{n}"
    tmp = model_dir / f".{dest.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for f in LIVE_FILES:
        shutil.copy2(model_dir / f, tmp / f)
    _freeze(tmp)
    _fsync_dir(tmp)
    os.replace(tmp, dest)
    return dest


def new_version(model_dir: Path, now: datetime) -> str:
    """`vYYYYmmdd_HHMMSS` of `now`, with `_2`, `_3`... when a set of that name exists (a rerun at the same time)."""
    name = f"v{now.astimezone(UTC):%Y%m%d_%H%M%S}"
    version, n = name, 1
    while (model_dir / "versions" / version).exists():
        n += 1
        version = f"{name}_{n}"
    return version


def _install(
    model_dir: Path,
    version: str,
    write: Callable[[Path], None],
    now: datetime,
    check: Callable[[Deployed], None] | None,
) -> tuple[Deployed, Path | None]:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "versions").mkdir(exist_ok=True)
    _clean_temporaries(model_dir)
    final = model_dir / "versions" / version
    if final.exists():
        raise ValueError(f"model version {version} already exists in {final}")
    tmp = model_dir / "versions" / f".{version}.tmp"
    write(tmp)
    loaded = load_set(tmp)
    if check is not None:
        check(loaded)
    _freeze(tmp)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    with _locked(model_dir, exclusive=True):
        _finish_interrupted_switch(model_dir)
        _convert_symlinked_layout(model_dir)
        backup = _backup_live(model_dir, now)
        _switch(model_dir, final, now)
    return Deployed(loaded.objects, loaded.metadata, model_dir), backup


def deploy(
    model_dir: Path,
    objects: dict[str, Any],
    metadata: dict,
    *,
    now: datetime,
    check: Callable[[Deployed], None] | None = None,
) -> tuple[Deployed, Path | None]:
    """Write the new set as a version, verify it, back up the live set (when sound), put the new one live.

    `check(deployed)` should predict something with the reloaded set and raise if that fails.
    Returns the deployed set and the backup path (None on a first deploy or when the live set was damaged).
    """

    def write(tmp: Path) -> None:
        _write_set(tmp, objects, dict(metadata, libraries=library_versions(), deployed_at=now.isoformat()))

    return _install(model_dir, metadata["version"], write, now, check)


def rollback(model_dir: Path, timestamp: str | None, *, now: datetime) -> tuple[Deployed, Path]:
    """Restore a backup (the newest working one by default, or backup_<timestamp>) as the live set.

    The backup's files are copied as they are (same checksums) into a new version `<version>-rollback-<now>`.
    """
    backups = list_backups(model_dir)
    if timestamp:
        wanted = timestamp if timestamp.startswith(BACKUP_PREFIX) else BACKUP_PREFIX + timestamp
        chosen = [b for b in backups if b.name == wanted]
        if not chosen:
            raise ModelLoadError(f"no model backup named {wanted} in {model_dir}; {_fix_hint(model_dir)}")
        source = chosen[0]
        if not set_is_sound(source):
            raise ModelLoadError(
                f"{wanted} is damaged (a file is missing or does not match its checksum); {_fix_hint(model_dir)}"
            )
    else:
        good = working_backups(model_dir)
        if not good:
            raise ModelLoadError(
                f"no working model backup in {model_dir} to roll back to: run weekly_training.py to train a new set"
            )
        source = good[0]
    restored = load_set(source)  # verify (and unpickle) before touching the live set
    base = restored.version.split("-rollback-")[0]
    version = f"{base}-rollback-{now.astimezone(UTC):%Y%m%d%H%M%S}"
    metadata = dict(restored.metadata, version=version, rolled_back_from=source.name, deployed_at=now.isoformat())
    metadata.pop("manual_rollback", None)

    def write(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        for name in MODEL_FILES.values():
            shutil.copyfile(source / name, tmp / name)
        _write_json(tmp / METADATA, metadata)
        _fsync_dir(tmp)

    deployed, _ = _install(model_dir, version, write, now, None)
    return deployed, source


def _clean_temporaries(model_dir: Path) -> None:
    """Remove half-written sets left by a crash (they were never live)."""
    for p in list((model_dir / "versions").glob(".*.tmp")) + list(model_dir.glob(f".{BACKUP_PREFIX}*.tmp")):
        shutil.rmtree(p, ignore_errors=True)
    for p in model_dir.glob(".*.new"):
        p.unlink(missing_ok=True)


def prune(model_dir: Path, keep_backups: int) -> list[Path]:
    """Delete backups beyond the newest `keep_backups` and versions that are neither live nor the previous one.

    Never removes the live set or the newest backup.
    """
    removed = []
    with _locked(model_dir, exclusive=True):
        backups = list_backups(model_dir)
        for b in backups[: -max(1, keep_backups)]:
            shutil.rmtree(b)
            removed.append(b)
        live = (_read_json(model_dir / METADATA) or {}).get("version")
        # keep the live version and the newest other one (the previous deploy), drop older ones
        others = [v for v in _versions(model_dir) if v.name != live]
        for v in others[1:]:
            shutil.rmtree(v)
            removed.append(v)
    return removed
