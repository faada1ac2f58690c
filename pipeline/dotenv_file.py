"""The `.env` file: read as text, so that a file the job may not read is one line naming it, its owner and the
user the job runs as (cron running as another user than the one who made it `chmod 600`), not a traceback."""

from __future__ import annotations

import io
import os
from pathlib import Path

from dotenv import dotenv_values

from pipeline.errors import ConfigError


def read_dotenv(path: Path) -> dict[str, str]:
    """The settings in the `.env` file at `path` ({} when there is none). A file the job may not read is one
    line naming it and its owner (cron running as another user than the one who made it `chmod 600`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc} ({_ownership(path)})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: not UTF-8 text (byte {exc.start})") from None
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def _ownership(path: Path) -> str:
    """Who owns `path` and who is asking, for the line that says why it cannot be read."""
    import grp
    import pwd

    def user(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return f"uid {uid}"

    def group(gid: int) -> str:
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return f"gid {gid}"

    try:
        st = path.stat()
    except OSError:
        return f"this job runs as {user(os.geteuid())}"
    return (
        f"owner {user(st.st_uid)}:{group(st.st_gid)}, mode {st.st_mode & 0o777:04o}; this job runs as "
        f"{user(os.geteuid())}: make it readable by that user, e.g. chown {user(os.geteuid())} {path}"
    )


__all__ = ["read_dotenv"]
