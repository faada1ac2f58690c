"""Which set is live, and putting another one live atomically.

MODEL_DIR holds the live set's files themselves (regular files whose modification time is the deploy time),
`versions/<version>/` (each deployed set, written once, read-only), `backup_YYYYmmdd_HHMMSS/` (the live set as it
was before each deploy or rollback, only when its files matched their checksums), `.live` (the checksums of the
set the registry put in place, to notice a copy by hand), `.switch` (present only while a set is being put in
place) and `.lock` (deploys, rollbacks and adoptions take it exclusively, loaders shared).

A set goes live by `install`: written into `versions/.<version>.tmp`, fsynced, checked, renamed into
`versions/<version>`, then copied over the live names one by one (each by an atomic rename) under `.switch`: a
crash part-way leaves `.switch`, and the next load or deploy finishes the copy from the complete version
directory, so a loader never uses a mix of two sets.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import ModelLoadError
from pipeline.forecast import legacy_sets
from pipeline.forecast.set_files import (
    LIVE_FILES,
    METADATA,
    Deployed,
    copy_file,
    freeze,
    fsync_dir,
    load_set,
    manifest_sums,
    read_json,
    set_is_sound,
    sums,
    write_json,
)

BACKUP_PREFIX = "backup_"
STATE = ".live"
SWITCH = ".switch"
LOCK = ".lock"


@contextmanager
def locked(model_dir: Path, exclusive: bool):
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


def has_live_set(model_dir: Path) -> bool:
    return any((model_dir / n).is_file() for n in LIVE_FILES) or legacy_sets.old_layout(model_dir)


def live_path(model_dir: Path) -> Path | None:
    """The directory holding the live set's files (MODEL_DIR itself), or None when nothing is deployed."""
    return model_dir if has_live_set(model_dir) else None


def live_is_sound(model_dir: Path) -> bool:
    found = sums(model_dir)
    return None not in found.values() and manifest_sums(read_json(model_dir / METADATA)) == found


def list_backups(model_dir: Path) -> list[Path]:
    if not model_dir.is_dir():
        return []
    return sorted(
        (p for p in model_dir.iterdir() if p.is_dir() and p.name.startswith(BACKUP_PREFIX)), key=lambda p: p.name
    )


def working_backups(model_dir: Path) -> list[Path]:
    """Backups whose files all match their checksums, newest first."""
    return [b for b in reversed(list_backups(model_dir)) if set_is_sound(b)]


def versions(model_dir: Path) -> list[Path]:
    """The deployed versions, newest first."""
    root = model_dir / "versions"
    if not root.is_dir():
        return []
    return sorted(
        (v for v in root.iterdir() if v.is_dir() and not v.name.startswith(".")),
        key=lambda v: v.stat().st_mtime,
        reverse=True,
    )


def fix_hint(model_dir: Path) -> str:
    """What the operator can do about a live set that cannot be used."""
    good = working_backups(model_dir)
    if not good:
        return "no working backup: run weekly_training.py to train a new set"
    return (
        f"copy a whole set back (cp {model_dir.name}/{good[0].name}/*.joblib {model_dir.name}/) or run "
        f"weekly_training.py --rollback; working backups: {', '.join(b.name for b in good)}"
    )


def switch(model_dir: Path, source: Path, now: datetime) -> None:
    """Copy the complete set in `source` over the live names (caller holds the lock), metadata.json last."""
    relative = source.resolve().relative_to(model_dir.resolve())
    write_json(model_dir / SWITCH, {"source": str(relative), "at": now.isoformat()})
    fsync_dir(model_dir)
    when = now.timestamp()
    for name in LIVE_FILES:
        copy_file(source / name, model_dir / name, when)
    meta = json.loads((model_dir / METADATA).read_text())
    write_json(model_dir / STATE, {"version": meta.get("version"), "sha256": manifest_sums(meta)})
    legacy_sets.drop_symlink(model_dir)
    (model_dir / SWITCH).unlink()
    fsync_dir(model_dir)


def finish_interrupted_switch(model_dir: Path) -> None:
    job = read_json(model_dir / SWITCH)
    if job is None:
        return
    source = model_dir / job.get("source", "-")
    if not job.get("source") or not set_is_sound(source):
        raise ModelLoadError(f"a deploy was interrupted and its set {source} is gone or damaged: {fix_hint(model_dir)}")
    switch(model_dir, source, datetime.fromisoformat(job["at"]))


def convert_symlinked_layout(model_dir: Path) -> None:
    """Replace the old layout's symlinked live names with regular files (when the set behind them is sound)."""
    found = legacy_sets.symlinked_set(model_dir)
    if found is not None and set_is_sound(found[0]):
        switch(model_dir, *found)


def repair(model_dir: Path) -> None:
    """Finish what a crash or an older release left (caller holds the lock exclusively)."""
    finish_interrupted_switch(model_dir)
    convert_symlinked_layout(model_dir)


def needs_repair(model_dir: Path) -> bool:
    return (model_dir / SWITCH).exists() or legacy_sets.old_layout(model_dir)


def backup_live(model_dir: Path, now: datetime) -> Path | None:
    """Copy the live set to backup_<now> (caller holds the lock). A set whose files do not match their
    checksums is not backed up (it would become the newest "backup" a rollback restores); an identical newest
    backup is reused."""
    if not live_is_sound(model_dir):
        return None
    found = sums(model_dir)
    backups = list_backups(model_dir)
    if backups and manifest_sums(read_json(backups[-1] / METADATA)) == found and set_is_sound(backups[-1]):
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
    freeze(tmp)
    fsync_dir(tmp)
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


def clean_temporaries(model_dir: Path) -> None:
    """Remove half-written sets left by a crash (they were never live)."""
    for p in list((model_dir / "versions").glob(".*.tmp")) + list(model_dir.glob(f".{BACKUP_PREFIX}*.tmp")):
        shutil.rmtree(p, ignore_errors=True)
    for p in model_dir.glob(".*.new"):
        p.unlink(missing_ok=True)


def install(
    model_dir: Path,
    version: str,
    write: Callable[[Path], None],
    now: datetime,
    check: Callable[[Deployed], None] | None,
) -> tuple[Deployed, Path | None]:
    """`write(dir)` a set as `versions/<version>`, verify it (checksums, then `check`), back up the live set
    (when sound) and put the new one live. Returns it and the backup (None when there was none)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "versions").mkdir(exist_ok=True)
    clean_temporaries(model_dir)
    final = model_dir / "versions" / version
    if final.exists():
        raise ValueError(f"model version {version} already exists in {final}")
    tmp = model_dir / "versions" / f".{version}.tmp"
    write(tmp)
    loaded = load_set(tmp)
    if check is not None:
        check(loaded)
    freeze(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    with locked(model_dir, exclusive=True):
        repair(model_dir)
        backup = backup_live(model_dir, now)
        switch(model_dir, final, now)
    return Deployed(loaded.objects, loaded.metadata, model_dir), backup


__all__ = [
    "BACKUP_PREFIX",
    "STATE",
    "SWITCH",
    "LOCK",
    "locked",
    "has_live_set",
    "live_path",
    "live_is_sound",
    "list_backups",
    "working_backups",
    "versions",
    "fix_hint",
    "switch",
    "repair",
    "needs_repair",
    "backup_live",
    "new_version",
    "clean_temporaries",
    "install",
]
