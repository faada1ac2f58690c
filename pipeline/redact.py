"""Secrets masked in any form, wherever a message came from.

An upstream's error body is untrusted text: a provider may echo the API key back as it was sent, URL-encoded
(`%2F` or `%2f`), `+` for a space, JSON-escaped, lower- or upper-cased. `Redactor` replaces every such form of
every secret, matching case-insensitively, with `***`. One masking function for every way out: the job's log
handler and the `job_runs` error writer (pipeline.jobs.logs, pipeline.store.job_runs) and the providers' own
error messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 4  # shorter values (a password "pw") would mask ordinary words


def forms(secret: str) -> set[str]:
    """The spellings of `secret` a message may carry (case aside: matching ignores it)."""
    out = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]}
    out |= {quote(f, safe="") for f in list(out)}  # encoded twice (a URL inside a URL)
    return {f for f in out if f}


class Redactor:
    """Callable masking every form of `secrets` (those under MIN_LENGTH characters are ignored)."""

    def __init__(self, secrets: Iterable[str | None]):
        self.secrets = tuple(sorted({s for s in secrets if s and len(s) >= MIN_LENGTH}, key=len, reverse=True))
        spellings = sorted({f for s in self.secrets for f in forms(s)}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in spellings), re.IGNORECASE) if spellings else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def __bool__(self) -> bool:
        return self._pattern is not None


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every form of every secret masked."""
    return Redactor(secrets)(text)


__all__ = ["MASK", "MIN_LENGTH", "forms", "Redactor", "redact"]
