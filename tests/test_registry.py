"""The model registry: atomic deploys, checksums, backups, rollback, pruning, crash safety."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.forecast import registry

T0 = datetime(2026, 1, 18, 2, 0, tzinfo=UTC)


def _objects(tag):
    return {k: {"model": k, "tag": tag, "weights": list(range(1000))} for k in registry.MODEL_FILES}


def _deploy(model_dir, tag, when):
    return registry.deploy(model_dir, _objects(tag), {"version": f"v{tag}", "trained_at": when.isoformat()}, now=when)


def test_first_deploy_then_backup_and_switch(tmp_path):
    md = tmp_path / "models"
    d1, backup = _deploy(md, 1, T0)
    assert backup is None and d1.version == "v1"
    for name in [*registry.MODEL_FILES.values(), "metadata.json"]:
        assert (md / name).is_file()  # the live set: regular files at the stable names
    meta = json.loads((md / "metadata.json").read_text())
    assert set(meta["sha256"]) == set(registry.MODEL_FILES.values()) and "libraries" in meta
    d2, backup = _deploy(md, 2, T0 + timedelta(days=7))
    assert backup.name == "backup_20260125_020000"
    assert registry.load_deployed(md).version == "v2"
    assert registry.load_set(backup).version == "v1"


def test_a_rerun_at_the_same_time_gets_its_own_version(tmp_path):
    md = tmp_path / "models"
    first = registry.new_version(md, T0)
    assert first == "v20260118_020000"
    registry.deploy(md, _objects(1), {"version": first}, now=T0)
    second = registry.new_version(md, T0)
    assert second == "v20260118_020000_2"
    _, backup = registry.deploy(md, _objects(2), {"version": second}, now=T0)
    assert registry.load_deployed(md).version == second and registry.load_set(backup).version == first


def test_tampered_or_missing_file_is_refused(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    live = registry.live_path(md)
    with open(live / "xgboost.joblib", "ab") as fh:
        fh.write(b"tamper")
    with pytest.raises(registry.ModelLoadError, match="checksum"):
        registry.load_deployed(md)
    (live / "xgboost.joblib").unlink()
    with pytest.raises(registry.ModelLoadError, match="missing"):
        registry.load_deployed(md)


def test_checking_without_unpickling_refuses_what_loading_refuses(tmp_path):
    """The backup checks the live set with unpickle=False: the same verdicts, no objects."""
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    checked = registry.load_deployed(md, unpickle=False)
    assert checked.objects == {} and checked.version == registry.load_deployed(md).version == "v1"
    with open(registry.live_path(md) / "xgboost.joblib", "ab") as fh:
        fh.write(b"tamper")
    for unpickle in (True, False):
        with pytest.raises(registry.ModelLoadError, match="checksum"):
            registry.load_deployed(md, unpickle=unpickle)


def test_no_deployed_set(tmp_path):
    with pytest.raises(registry.ModelLoadError, match="weekly_training"):
        registry.load_deployed(tmp_path / "models")


def test_rollback_latest_and_by_timestamp(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    _deploy(md, 2, T0 + timedelta(days=7))
    _deploy(md, 3, T0 + timedelta(days=14))
    deployed, source = registry.rollback(md, None, now=T0 + timedelta(days=15))
    assert source.name == "backup_20260201_020000" and deployed.objects["elo"]["tag"] == 2
    deployed, source = registry.rollback(md, "20260125_020000", now=T0 + timedelta(days=16))
    assert deployed.objects["elo"]["tag"] == 1
    assert registry.load_deployed(md).objects["elo"]["tag"] == 1
    with pytest.raises(registry.ModelLoadError, match="no model backup"):
        registry.rollback(md, "19990101_000000", now=T0)


def test_prune_keeps_live_and_newest_backup(tmp_path):
    md = tmp_path / "models"
    for i in range(6):
        _deploy(md, i, T0 + timedelta(days=7 * i))
    registry.prune(md, keep_backups=2)
    assert len(registry.list_backups(md)) == 2
    assert registry.load_deployed(md).objects["elo"]["tag"] == 5
    registry.prune(md, keep_backups=0)  # never below one backup
    assert len(registry.list_backups(md)) == 1


CHILD = """
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from pipeline.forecast import registry
md = Path(sys.argv[1]); i = int(sys.argv[2])
objs = {k: {"model": k, "tag": i, "weights": list(range(20000))} for k in registry.MODEL_FILES}
print("go", flush=True)
registry.deploy(md, objs, {"version": f"v{i}"}, now=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=i))
"""


@pytest.mark.slow
def test_sigkill_during_deploy_leaves_a_complete_set(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 0, T0 - timedelta(days=400))
    rng = random.Random(1)
    # How long one deploy takes here (child start-up excluded), so kills land all through it.
    t = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(md), "1000"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "go"
    t = time.monotonic()
    assert p.wait() == 0
    duration = time.monotonic() - t
    outcomes = {"old": 0, "new": 0}
    # On a loaded machine one deploy may take several times the one measured: the kills' range follows the
    # outcomes (wider after a kill before the switch, narrower after one after it), so both sides are hit.
    scale = 1.3
    for trial in range(1, 21):
        before = registry.load_deployed(md).objects["elo"]["tag"]
        p = subprocess.Popen([sys.executable, "-c", CHILD, str(md), str(trial)], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "go"
        time.sleep(rng.uniform(0, scale * duration))
        p.send_signal(signal.SIGKILL)
        p.wait()
        d = registry.load_deployed(md)  # always loadable, checksums verified
        tags = {d.objects[k]["tag"] for k in registry.MODEL_FILES}
        assert len(tags) == 1, "a mix of two sets"
        assert tags.pop() in (before, trial)
        new = d.objects["elo"]["tag"] == trial
        outcomes["new" if new else "old"] += 1
        scale *= 0.85 if new else 1.3
    final, _ = _deploy(md, 99, T0 + timedelta(days=1))  # the next deploy is clean
    assert registry.load_deployed(md).objects["elo"]["tag"] == 99
    assert not list((md / "versions").glob(".*.tmp"))
    print(outcomes)
    assert outcomes["old"] and outcomes["new"], f"kills did not land both before and after the switch: {outcomes}"


# ---- the production guide's manual rollback: `cp models/backup_X/*.joblib models/` ---------------------------


def _snapshot(model_dir):
    """Every file under versions/, with its bytes: deployed versions must never change."""
    return {
        str(p.relative_to(model_dir)): p.read_bytes()
        for p in sorted((model_dir / "versions").rglob("*"))
        if p.is_file()
    }


def _cp(model_dir, pattern):
    """The guide's command, typed in the directory above MODEL_DIR (the shell expands the glob)."""
    r = subprocess.run(
        ["sh", "-c", f"cp models/{pattern} models/"], cwd=model_dir.parent, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_cp_of_a_backup_is_a_recognised_rollback_recorded_once_and_versions_never_change(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    _, backup = _deploy(md, 2, T0 + timedelta(days=7))
    versions = _snapshot(md)
    _cp(md, f"{backup.name}/*.joblib")
    assert _snapshot(md) == versions  # the copy went into the live files, not into versions/v2
    d = registry.load_deployed(md)
    assert d.objects["elo"]["tag"] == 1 and d.version == "v1" and d.copied_from == backup
    notes = []
    assert registry.adopt_copied_set(md, d, notes.append, T0 + timedelta(days=8))
    again = registry.load_deployed(md)  # recorded and adopted: a second job records nothing
    assert again.copied_from is None and again.version == "v1"
    assert not registry.adopt_copied_set(md, d, notes.append, T0 + timedelta(days=8))
    assert len(notes) == 1 and backup.name in notes[0] and "v2" in notes[0]
    assert json.loads((md / "metadata.json").read_text())["manual_rollback"]["from"] == backup.name
    assert _snapshot(md) == versions


def test_cp_of_all_files_of_a_backup_is_recognised_too(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    _, backup = _deploy(md, 2, T0 + timedelta(days=7))
    _cp(md, f"{backup.name}/*")
    d = registry.load_deployed(md)
    assert d.version == "v1" and d.copied_from == backup


def test_a_mixed_set_is_refused_with_one_line_naming_the_working_backups(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    _, b1 = _deploy(md, 2, T0 + timedelta(days=7))
    _, b2 = _deploy(md, 3, T0 + timedelta(days=14))
    _cp(md, f"{b1.name}/elo.joblib")  # one file of an older set beside the others
    with pytest.raises(registry.ModelLoadError) as err:
        registry.load_deployed(md)
    message = str(err.value)
    assert "\n" not in message and "elo.joblib from backup_20260125_020000" in message
    assert f"working backups: {b2.name}, {b1.name}" in message


def test_a_damaged_live_set_is_never_backed_up_so_rollback_keeps_working(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    _deploy(md, 2, T0 + timedelta(days=7))
    with open(md / "xgboost.joblib", "ab") as fh:  # damage the live set
        fh.write(b"tamper")
    deployed, source = registry.rollback(md, None, now=T0 + timedelta(days=8))
    assert deployed.objects["elo"]["tag"] == 1 and source.name == "backup_20260125_020000"
    assert all(registry.set_is_sound(b) for b in registry.list_backups(md))  # the damaged set was not kept
    deployed, source = registry.rollback(md, None, now=T0 + timedelta(days=9))  # and a second one works too
    assert registry.load_deployed(md).objects["elo"]["tag"] == 1
    assert all(registry.set_is_sound(b) for b in registry.list_backups(md))


def test_the_live_files_are_regular_files_timed_at_the_deploy(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    _deploy(md, 2, T0 + timedelta(days=7))
    for name in [*registry.MODEL_FILES.values(), "metadata.json"]:
        assert (md / name).is_file() and not (md / name).is_symlink()
        assert (md / name).stat().st_mtime == (T0 + timedelta(days=7)).timestamp()


def test_the_symlinked_layout_of_earlier_releases_is_converted(tmp_path):
    md = tmp_path / "models"
    _deploy(md, 1, T0)
    version = md / "versions" / "v1"
    for name in [*registry.MODEL_FILES.values(), "metadata.json"]:
        (md / name).unlink()
        (md / name).symlink_to(Path("current") / name)
    (md / ".live").unlink()
    (md / "current").symlink_to(Path("versions") / "v1")
    assert registry.load_deployed(md).version == "v1"
    assert not (md / "current").exists() and not (md / "elo.joblib").is_symlink()
    before = _snapshot(md)
    _cp(md, "versions/v1/elo.joblib")  # writes a regular file now, never through into versions/
    assert _snapshot(md) == before and version.is_dir()
