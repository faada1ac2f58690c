"""Sets copied into MODEL_DIR by hand: recognised, described, adopted.

The production guide's rollback by hand, `cp models/backup_X/*.joblib models/`, replaces the live files with a
backup's. The loader recognises the copied files by their checksums against the manifests (metadata.json) of the
backups and versions (`recognise`), loads that set, and the next job with a store records it (model_versions
action `manual_rollback`, the job's counts) and rewrites metadata.json to match (`adopt_copied_set`). A set that
matches no single manifest (some files from one set, some from another, or changed files) is refused with one
line naming what each file is (`describe_mix`) and the backups that would work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pipeline.forecast.live_switch import STATE, list_backups, locked, versions
from pipeline.forecast.set_files import METADATA, Deployed, fsync_dir, manifest_sums, read_json, sums, write_json


def _stored_sets(model_dir: Path) -> list[Path]:
    """Backups (newest first), then versions (newest first): where a copy by hand comes from."""
    return [*reversed(list_backups(model_dir)), *versions(model_dir)]


def recognise(model_dir: Path, found: dict) -> tuple[Path, dict] | None:
    """The backup (newest first) or version whose manifest lists exactly these checksums, and that manifest."""
    for candidate in _stored_sets(model_dir):
        meta = read_json(candidate / METADATA)
        if manifest_sums(meta) == found:
            return candidate, meta or {}
    return None


def describe_mix(model_dir: Path, found: dict) -> str:
    """Where each live file comes from, for a set that is no one known set."""
    known: dict[str, str] = {}
    live = read_json(model_dir / STATE) or read_json(model_dir / METADATA) or {}
    for name, digest in (manifest_sums(live) or {}).items():
        known[f"{name}:{digest}"] = f"the deployed set {live.get('version', '?')}"
    for candidate in _stored_sets(model_dir):
        for name, digest in (manifest_sums(read_json(candidate / METADATA)) or {}).items():
            known.setdefault(f"{name}:{digest}", candidate.name)
    parts = []
    for name, digest in found.items():
        if digest is None:
            parts.append(f"{name} is missing")
        else:
            parts.append(
                f"{name} from {known[f'{name}:{digest}']}"
                if f"{name}:{digest}" in known
                else f"{name} matches no known checksum"
            )
    return ", ".join(parts)


def adopt_copied_set(model_dir: Path, deployed: Deployed, record: Callable[[str], None], now: datetime) -> bool:
    """Make a set copied in by hand the registry's live set: `record(note)` it once, rewrite metadata.json.

    Several jobs may notice the copy at once; the lock and the re-check make exactly one of them record it.
    Returns whether this call recorded it.
    """
    if deployed.copied_from is None:
        return False
    with locked(model_dir, exclusive=True):
        found = sums(model_dir)
        if (
            manifest_sums(read_json(model_dir / STATE)) == found
            and manifest_sums(read_json(model_dir / METADATA)) == found
        ):
            return False  # another job got here first
        if manifest_sums(deployed.metadata) != found:
            return False  # the files changed again meanwhile; the next load sees them afresh
        before = (read_json(model_dir / STATE) or {}).get("version", "?")
        origin = deployed.copied_from.name if deployed.copied_from != model_dir else "a set with its own metadata.json"
        note = f"{model_dir.name}/*.joblib copied by hand from {origin} (replacing {before})"
        record(note)
        metadata = dict(
            deployed.metadata, manual_rollback={"from": origin, "replaced": before, "noticed_at": now.isoformat()}
        )
        write_json(model_dir / METADATA, metadata)
        write_json(model_dir / STATE, {"version": metadata["version"], "sha256": found})
        fsync_dir(model_dir)
        deployed.metadata, deployed.copied_from = metadata, None
        return True


__all__ = ["recognise", "describe_mix", "adopt_copied_set"]
