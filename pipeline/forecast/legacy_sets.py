"""Shims for model sets and model directories written by earlier releases. Each says when it can go.

- `LEGACY_MODULES`: sets pickled before the package was laid out by stage name their classes by the old module
  paths (`pipeline.models.elo`). Remove once no set in any MODEL_DIR (live, `versions/`, `backup_*`) or in a
  kept `models_*.tar.gz` backup was written before that layout: after KEEP_MODEL_BACKUPS deploys and
  BACKUP_RETENTION_DAYS since every installation upgraded, `test_a_model_pickled_under_the_old_module_path...`
  goes with it.
- `symlinked_set`: earlier releases kept the live names as symlinks into `current`, through which `cp` wrote into
  a version directory. The first load or deploy after the upgrade converts the layout (pipeline.forecast.
  live_switch); remove once every installation has deployed or loaded a set since, i.e. no MODEL_DIR has a
  `current` symlink.

A leaf: it imports nothing of the registry, so every part of it may use these.
"""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from pathlib import Path

LEGACY_MODULES = {
    "pipeline.models": "pipeline.forecast.models",
    **{f"pipeline.models.{m}": f"pipeline.forecast.models.{m}" for m in ("elo", "dixon_coles", "xgb", "ensemble")},
}


def alias_legacy_modules() -> None:
    """Make the old module paths name the new modules (imports every model, and scikit-learn: only on need)."""
    for old, new in LEGACY_MODULES.items():
        sys.modules.setdefault(old, importlib.import_module(new))


def old_layout(model_dir: Path) -> bool:
    """MODEL_DIR is still in the symlinked layout (its `current` symlink is there)."""
    return (model_dir / "current").is_symlink()


def symlinked_set(model_dir: Path) -> tuple[Path, datetime] | None:
    """The set behind the `current` symlink of the old layout and when it went live, or None (the new layout)."""
    current = model_dir / "current"
    if not current.is_symlink():
        return None
    return current.resolve(), datetime.fromtimestamp(current.lstat().st_mtime, UTC)


def drop_symlink(model_dir: Path) -> None:
    """Remove the old layout's `current` symlink once the live names are regular files."""
    current = model_dir / "current"
    if current.is_symlink():
        current.unlink()


__all__ = ["LEGACY_MODULES", "alias_legacy_modules", "old_layout", "symlinked_set", "drop_symlink"]
