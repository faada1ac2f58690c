"""The model registry: what the jobs ask of MODEL_DIR. Load the live set, deploy a new one, roll back to a
backup, prune old sets.

Its parts, one idea each: `set_files` (a set's files, checksums, saving and loading), `live_switch` (which set
is live, the atomic switch, backups and versions), `hand_copies` (sets copied in by hand with `cp`, recognised
and adopted), `legacy_sets` (shims for what earlier releases wrote, each with its removal condition). The names
the rest of the package uses are importable from here.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import ModelLoadError
from pipeline.forecast.hand_copies import adopt_copied_set, describe_mix, recognise
from pipeline.forecast.legacy_sets import LEGACY_MODULES
from pipeline.forecast.live_switch import (
    BACKUP_PREFIX,
    STATE,
    fix_hint,
    has_live_set,
    install,
    list_backups,
    live_path,
    locked,
    needs_repair,
    new_version,
    repair,
    versions,
    working_backups,
)
from pipeline.forecast.set_files import (
    LIVE_FILES,
    METADATA,
    MODEL_FILES,
    Deployed,
    fsync_dir,
    library_versions,
    load_objects,
    load_set,
    manifest_sums,
    read_json,
    set_is_sound,
    sums,
    write_json,
    write_set,
)


def load_deployed(model_dir: Path, *, unpickle: bool = True) -> Deployed:
    """The live set. Files copied by hand from one backup are recognised (`copied_from` says which).

    With `unpickle=False` the files are only checked (complete, one known set, checksums as recorded when the
    set was written from models that had just been validated) and `objects` is empty: for the backup, which
    copies the files and needs no machine-learning library to do it."""
    load: Callable[[Path], dict[str, Any]] = load_objects if unpickle else (lambda _path: {})
    if not has_live_set(model_dir):
        raise ModelLoadError(f"no deployed models in {model_dir}: run production/weekly_training.py first")
    if needs_repair(model_dir):
        with locked(model_dir, exclusive=True):
            repair(model_dir)
    with locked(model_dir, exclusive=False):
        found = sums(model_dir)
        if all(v is None for v in found.values()):
            raise ModelLoadError(f"no deployed models in {model_dir}: run production/weekly_training.py first")
        state = read_json(model_dir / STATE)
        metadata = read_json(model_dir / METADATA)
        complete = None not in found.values()
        meta_ok = complete and manifest_sums(metadata) == found
        if meta_ok and (state is None or manifest_sums(state) == found):
            return Deployed(load(model_dir), metadata or {}, model_dir)
        copied = recognise(model_dir, found) if complete else None
        if copied is not None:
            source, meta = copied
            return Deployed(load(model_dir), meta, model_dir, copied_from=source)
        if meta_ok:  # a whole set with its own metadata.json, from no backup we know (e.g. a models_*.tar.gz)
            return Deployed(load(model_dir), metadata or {}, model_dir, copied_from=model_dir)
        raise ModelLoadError(
            f"{model_dir}/*.joblib are not one known set ({describe_mix(model_dir, found)}; "
            f"checksums checked against {METADATA} and every backup): {fix_hint(model_dir)}"
        )


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
        write_set(tmp, objects, dict(metadata, libraries=library_versions(), deployed_at=now.isoformat()))

    return install(model_dir, metadata["version"], write, now, check)


def rollback(model_dir: Path, timestamp: str | None, *, now: datetime) -> tuple[Deployed, Path]:
    """Restore a backup (the newest working one by default, or backup_<timestamp>) as the live set.

    The backup's files are copied as they are (same checksums) into a new version `<version>-rollback-<now>`.
    """
    backups = list_backups(model_dir)
    if timestamp:
        wanted = timestamp if timestamp.startswith(BACKUP_PREFIX) else BACKUP_PREFIX + timestamp
        chosen = [b for b in backups if b.name == wanted]
        if not chosen:
            raise ModelLoadError(f"no model backup named {wanted} in {model_dir}; {fix_hint(model_dir)}")
        source = chosen[0]
        if not set_is_sound(source):
            raise ModelLoadError(
                f"{wanted} is damaged (a file is missing or does not match its checksum); {fix_hint(model_dir)}"
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
        write_json(tmp / METADATA, metadata)
        fsync_dir(tmp)

    deployed, _ = install(model_dir, version, write, now, None)
    return deployed, source


def prune(model_dir: Path, keep_backups: int) -> list[Path]:
    """Delete backups beyond the newest `keep_backups` and versions that are neither live nor the previous one.

    Never removes the live set or the newest backup.
    """
    removed = []
    with locked(model_dir, exclusive=True):
        backups = list_backups(model_dir)
        for b in backups[: -max(1, keep_backups)]:
            shutil.rmtree(b)
            removed.append(b)
        live = (read_json(model_dir / METADATA) or {}).get("version")
        # keep the live version and the newest other one (the previous deploy), drop older ones
        others = [v for v in versions(model_dir) if v.name != live]
        for v in others[1:]:
            shutil.rmtree(v)
            removed.append(v)
    return removed


__all__ = [
    "MODEL_FILES",
    "METADATA",
    "LIVE_FILES",
    "LEGACY_MODULES",
    "ModelLoadError",
    "Deployed",
    "load_objects",
    "load_set",
    "set_is_sound",
    "has_live_set",
    "live_path",
    "list_backups",
    "working_backups",
    "new_version",
    "load_deployed",
    "adopt_copied_set",
    "deploy",
    "rollback",
    "prune",
]
