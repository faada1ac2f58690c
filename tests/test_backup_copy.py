"""BACKUP_COPY_COMMAND: a real shell command copies each new backup off the volume (here: to another directory),
each copy recorded for the health check; a failing copy is one line naming the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipeline.config import load_settings
from pipeline.jobs.backup_copy import RECORD, copy_off, last_copies, was_copied


def backups(tmp_path: Path) -> tuple[Path, list[Path]]:
    d = tmp_path / "backups"
    d.mkdir()
    files = [d / "predictions_20260118_040000.dump", d / "models_20260118_040000.tar.gz"]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * 1000)
    return d, files


def test_the_command_copies_every_file_and_records_it(tmp_path):
    d, files = backups(tmp_path)
    remote = tmp_path / "remote"
    remote.mkdir()
    command = f'cp "$1" {remote}/ && test "$1" = "$BACKUP_FILE"'
    assert copy_off(command, files, d) is None
    assert sorted(p.name for p in remote.iterdir()) == sorted(f.name for f in files)
    assert all((remote / f.name).read_bytes() == f.read_bytes() for f in files)
    assert all(was_copied(d, f) for f in files)
    assert stat.S_IMODE((d / RECORD).stat().st_mode) == 0o600
    # a file pruned by retention drops out of the record's answer
    files[0].unlink()
    assert list(last_copies(d)) == [files[1].name]


def test_a_failing_copy_is_one_line_naming_the_file_and_stops(tmp_path):
    d, files = backups(tmp_path)
    line = copy_off('echo "upload refused: 403 Forbidden" >&2; exit 3', files, d)
    assert line == f"BACKUP_COPY_COMMAND failed for {files[0].name} (exit 3): upload refused: 403 Forbidden"
    assert not (d / RECORD).exists() and not any(was_copied(d, f) for f in files)


def test_a_hung_copy_is_stopped(tmp_path):
    d, files = backups(tmp_path)
    line = copy_off("sleep 30", files[:1], d, timeout=0.5)
    assert line is not None and "did not finish" in line and files[0].name in line


def test_no_command_copies_nothing(tmp_path):
    d, files = backups(tmp_path)
    assert copy_off("", files, d) is None and not (d / RECORD).exists()


def test_the_setting_and_the_production_deployment(tmp_path):
    s = load_settings({"BACKUP_COPY_COMMAND": ' cp "$1" /x '}, dotenv=Path(os.devnull))
    assert s.backup_copy_command == 'cp "$1" /x'
