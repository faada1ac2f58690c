"""Fault injection shared by tests/test_faults.py (which asserts) and bench/bench_faults.py (which prints the
README's table): hostile upstream servers on 127.0.0.1, broken stores and disks, killed runs, and helpers to run
the real production scripts against them and read back what was kept.

A full or read-only disk needs a mount: `unshare -rm` gives the job a private mount namespace (as root or, where
user namespaces are enabled, as anyone) with a size-limited tmpfs or a read-only bind mount in it, so nothing
outside the test changes. `can_mount()` says whether this machine allows it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sportmonks_server import envelope, fixture, scores  # noqa: E402

UTC = UTC
NOW = "2025-03-20T02:00:00"  # weekly training's --now in the upstream scenarios


# ---- a scriptable server ------------------------------------------------------------------------------------------


class Server:
    """HTTP on 127.0.0.1; `routes` maps a path prefix to a function writing the whole response on the handler."""

    def __init__(self):
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.calls: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                server.calls.append(self.path)
                for prefix, fn in sorted(server.routes.items(), key=lambda kv: -len(kv[0])):
                    if self.path.startswith(prefix):
                        try:
                            fn(self)
                        except (BrokenPipeError, ConnectionResetError):
                            pass  # the client gave up, as it should
                        return
                send(self, 404, b"not found", "text/plain")

            def log_message(self, *args):
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Server:
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json", **headers) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    h.send_header("Connection", "close")
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), str(v))
    h.end_headers()
    h.wfile.write(body)


def trickle_body(body: bytes, every: float = 0.25) -> Callable:
    """200 with a correct Content-Length, then the body one byte every `every` seconds."""

    def fn(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(len(body)):
            h.wfile.write(body[i : i + 1])
            h.wfile.flush()
            time.sleep(every)

    return fn


def trickle_headers(every: float = 0.5) -> Callable:
    """A status line, then header bytes one at a time, for ever: no read ever times out, no body ever starts."""

    def fn(h):
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100000):
            h.wfile.write(b"X")
            h.wfile.flush()
            time.sleep(every)

    return fn


def sportmonks_page() -> bytes:
    rows = [fixture(i, state_id=5, scores=scores(i, CURRENT=(2, 1))) for i in (101, 102)]
    return json.dumps(envelope(rows)).encode()


# ---- running the production scripts -----------------------------------------------------------------------------


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-reply (the faults under test) is expected: no traceback on the test's stderr."""

    def handle_error(self, request, client_address) -> None:
        pass


@dataclass
class Outcome:
    code: int
    stderr: str
    elapsed: float

    @property
    def line(self) -> str:
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    @property
    def message(self) -> str:
        """The last stderr line without the log prefix (time, level, logger)."""
        line = self.line
        parts = line.split(": ", 1)
        return parts[1] if len(parts) == 2 and " ERROR " in parts[0] else line


def make_env(tmp: Path, **extra) -> dict:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'predictions.db'}",
        "MODEL_DIR": str(tmp / "models"),
        "BACKUP_DIR": str(tmp / "backups"),
        "LOG_DIR": str(tmp / "logs"),
        "LOCK_DIR": str(tmp / "locks"),
        "CACHE_DIR": str(tmp / "cache"),
        "DATA_SOURCE": "sandbox",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_script(
    job: str, env: dict, *args: str, prefix: list[str] | None = None, timeout: float = 120, now: str | None = None
) -> Outcome:
    cmd = [sys.executable, str(ROOT / "production" / f"{job}.py"), *args]
    if now:
        cmd += ["--now", now]
    t = time.monotonic()
    r = subprocess.run(
        (prefix or []) + cmd + ["--quiet"], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout
    )
    return Outcome(r.returncode, r.stderr, time.monotonic() - t)


def run_here(job: str, env: dict, *args: str, now: str | None = None) -> Outcome:
    """What run_script checks, with the command run in this process (conftest.invoke_command): for faults a job
    handles itself (a bad setting, a bet settled by hand); mounts, deadlines that must stop a hung job and signals
    stay with run_script."""
    from conftest import invoke_command

    t = time.monotonic()
    result = invoke_command(job, [*args, *(["--now", now] if now else []), "--quiet"], env)
    return Outcome(result.exit_code, result.stderr, time.monotonic() - t)


def can_mount() -> str | None:
    """None when `unshare -rm` can mount a tmpfs here, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    r = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, text=True
    )
    return None if r.returncode == 0 else f"unshare -rm cannot mount: {r.stderr.strip()[:120]}"


def full_disk(directory: Path, size_kb: int = 256, leave_kb: int = 0, seed: Path | None = None) -> list[str]:
    """A command prefix: the job sees `directory` as a tmpfs of `size_kb` holding a copy of `seed`'s files (taken
    now) and a filler that leaves about `leave_kb` free."""
    directory.mkdir(parents=True, exist_ok=True)
    steps = [f'mount -t tmpfs -o size={size_kb}k tmpfs "{directory}"']
    if seed is not None:
        stash = directory.parent / f".seed-{uuid.uuid4().hex[:6]}"
        shutil.copytree(seed, stash)
        steps.append(f'cp -a "{stash}"/. "{directory}"/')
    steps.append(f'(dd if=/dev/zero of="{directory}/.filler" bs=1k count={size_kb} 2>/dev/null; true)')
    if leave_kb:
        steps.append(f'truncate -s -{leave_kb}k "{directory}/.filler"')
    return ["unshare", "-rm", "sh", "-c", " && ".join(steps) + ' && exec "$0" "$@"']


def read_only(directory: Path) -> list[str]:
    """A command prefix: the job sees `directory` read-only (a read-only bind mount; root cannot write either)."""
    script = f'mount --bind "{directory}" "{directory}" && mount -o remount,bind,ro "{directory}" && exec "$0" "$@"'
    return ["unshare", "-rm", "sh", "-c", script]


# ---- the README's table: what each test saw ----------------------------------------------------------------------


def record(fault: str, code: int, message: str, kept: str) -> None:
    """With FAULT_TABLE=<file> set (bench/bench_faults.py), append one row of the fault-injection table."""
    path = os.environ.get("FAULT_TABLE")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"fault": fault, "code": code, "message": message, "kept": kept}) + "\n")


def log_line(log: Path, *words: str) -> str:
    """The last line of a job's log containing all `words`, without its time/level/logger prefix."""
    hits = [ln for ln in log.read_text().splitlines() if all(w in ln for w in words)]
    line = hits[-1] if hits else ""
    return line.split(": ", 1)[1] if ": " in line else line


# ---- reading back what was kept -----------------------------------------------------------------------------------


def runs(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT id, job, status, error FROM job_runs ORDER BY id").fetchall()
    finally:
        con.close()


def count(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def lock_free(env: dict, job: str) -> bool:
    from pipeline.config import load_settings
    from pipeline.jobs.runner import job_is_running

    return not job_is_running(load_settings(env, dotenv=Path("/nonexistent")), job)


def prepared_store(tmp: Path, rows: int = 0) -> Path:
    """A migrated SQLite store (optionally padded with `rows` fixtures so it has some size), no job running."""
    from pipeline.providers.base import Batch, Match
    from pipeline.store import make_engine, migrate, store_batch

    db = tmp / "predictions.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine, tmp / "locks")
    if rows:
        ko = datetime(2024, 1, 1, 15, tzinfo=UTC)
        batch = Batch(
            matches=[
                Match(
                    provider_id=f"pad-{i}",
                    league="L",
                    season="2324",
                    kickoff=ko + timedelta(hours=i),
                    home_team=f"Home team number {i} " + "x" * 60,
                    away_team=f"Away {i}",
                )
                for i in range(rows)
            ]
        )
        with engine.begin() as conn:
            store_batch(conn, "sandbox", batch, ko)
    engine.dispose()
    return db


def damage_header(db: Path) -> None:
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    with open(db, "r+b") as fh:
        fh.write(b"this is not SQLite at all")


@contextmanager
def pg_schema(server_url: str):
    """A fresh schema on the real PostgreSQL server (like tests/conftest.py's pg_url), dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{server_url}{'&' if '?' in server_url else '?'}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_date(seconds_ahead: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_ahead), usegmt=True)
