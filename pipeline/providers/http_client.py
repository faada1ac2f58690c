"""One HTTP discipline for every remote source: a shared session, explicit timeouts, bounded retries, a deadline.

Retries (tenacity) cover what a later attempt can fix: connection errors, timeouts, 429 and 5xx. 401/403 raise
ProviderAuthError at once: no retry helps a bad key.

The socket timeouts bound each read, not the request: a server that sends one byte a second never trips them.
So every request also has an overall wall-clock `deadline` (HTTP_DEADLINE) covering its attempts, the waits
between them and the body, which is streamed in small reads with the clock checked after each. Past it the
request fails (ProviderError, exit 75) and is not retried.

A wait the source asks for (`Retry-After`, seconds or an HTTP date, or a reset time the caller reads from the
body) is honoured when it is short; when it is longer than `max_wait` or than what is left of the deadline the
request gives up at once, whichever way the source said it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3.exceptions
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from pipeline.providers.base import ProviderAuthError, ProviderError

log = logging.getLogger(__name__)

USER_AGENT = "football-pipeline/0.1 (+cron batch)"
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
DEFAULT_DEADLINE = 120.0  # whole request: attempts, waits and body
MAX_WAIT = 60.0  # never sleep longer than this between attempts
MAX_BODY = 200 * 2**20  # a body larger than this is not one of ours
CHUNK = 64 * 1024


class RetryableHTTPError(ProviderError):
    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


def make_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def _retry_after(resp: requests.Response) -> float | None:
    """`Retry-After` in seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _read_body(resp: requests.Response, end: float, shown: str, deadline: float) -> None:
    """Stream the body into `resp` in small reads, checking the wall clock after each."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > end:
            raise ProviderError(
                f"{shown}: no complete answer within {deadline:g} s (HTTP_DEADLINE); {size} bytes of the body received"
            )
        try:
            chunk = resp.raw.read1(CHUNK, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # cut off, reset, read timeout, bad gzip
            raise RetryableHTTPError(f"{shown}: body cut off ({type(exc).__name__})") from None
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY:
            raise ProviderError(f"{shown}: body larger than {MAX_BODY // 2**20} MB; not read")
        chunks.append(chunk)
    resp._content = b"".join(chunks)
    resp._content_consumed = True  # requests' own flag: the body is read


def _wait(base: float, left: Callable[[], float]) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        told = getattr(exc, "wait", None)
        if told is not None:
            pause = told + random.uniform(0, 0.1 * base)
        else:  # exponential backoff with full jitter
            pause = random.uniform(0, base * 2 ** (state.attempt_number - 1))
        return max(0.0, min(MAX_WAIT, pause, left()))

    return wait


def request(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    attempts: int = 4,
    backoff: float = 1.0,
    safe_url: str | None = None,
    wait_hint: Callable[[requests.Response], float | None] | None = None,
    deadline: float = DEFAULT_DEADLINE,
    max_wait: float = MAX_WAIT,
) -> requests.Response:
    """GET `url` with retries; returns a 2xx/3xx/4xx (other than 401/403/429) response, its body read.

    `safe_url` is what appears in errors and logs (callers pass the URL without secrets).
    `wait_hint` may read a source-specific reset time from a 429 response.
    """
    shown = safe_url or url
    end = time.monotonic() + deadline

    def left() -> float:
        return end - time.monotonic()

    def attempt() -> requests.Response:
        remaining = left()
        if remaining <= 0:
            raise ProviderError(f"{shown}: no complete answer within {deadline:g} s (HTTP_DEADLINE)")
        # no single read may outlast the deadline either
        limits = (min(timeout[0], remaining), min(timeout[1], remaining))
        try:
            resp = session.get(url, params=params, headers=headers, timeout=limits, stream=True)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:  # the last two: a body cut off mid-way
            raise RetryableHTTPError(f"{shown}: {type(exc).__name__}") from None
        except requests.RequestException as exc:  # e.g. too many redirects, a malformed header
            raise ProviderError(f"{shown}: {type(exc).__name__}") from None
        try:
            _read_body(resp, end, shown, deadline)
        finally:
            resp.close()
        if resp.status_code in (401, 403):
            raise ProviderAuthError(f"{shown}: HTTP {resp.status_code} (check the API key and plan)")
        if resp.status_code == 429 or resp.status_code >= 500:
            told = wait_hint(resp) if (wait_hint and resp.status_code == 429) else None
            told = told if told is not None else _retry_after(resp)
            what = "HTTP 429 rate limited" if resp.status_code == 429 else f"HTTP {resp.status_code}"
            if told is not None and (told > max_wait or told >= left()):
                # Waiting that long is not this run's job: stop now, the next run tries again.
                raise ProviderError(
                    f"{shown}: {what}; the source asks to wait {told:.0f} s, longer than this "
                    f"run waits ({min(max_wait, max(0.0, left())):.0f} s)"
                )
            raise RetryableHTTPError(f"{shown}: {what}", told)
        return resp

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=_wait(backoff, left),
        retry=retry_if_exception(lambda e: isinstance(e, RetryableHTTPError)),
        reraise=True,
        before_sleep=lambda s: log.warning("retrying after: %s", s.outcome.exception() if s.outcome else None),
    )
    return retrying(attempt)
