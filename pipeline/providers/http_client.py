"""One HTTP discipline for every remote source: a shared session, explicit timeouts, bounded retries.

Retries (tenacity) cover what a later attempt can fix: connection errors, timeouts, 429 and 5xx. A 429's
`Retry-After` (or a reset time the caller extracts) is honoured, capped so a cron job never sleeps for long.
401/403 raise ProviderAuthError at once: no retry helps a bad key.
"""
from __future__ import annotations

import logging
import random
from typing import Any, Callable, Mapping

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from pipeline.providers.base import ProviderAuthError, ProviderError

log = logging.getLogger(__name__)

USER_AGENT = "football-pipeline/0.1 (+cron batch)"
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
MAX_WAIT = 60.0                # never sleep longer than this between attempts


class RetryableHTTPError(ProviderError):
    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


def make_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _wait(base: float) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        told = getattr(exc, "wait", None)
        if told is not None:
            return min(MAX_WAIT, told + random.uniform(0, 0.1 * base))
        # Exponential backoff with full jitter.
        return min(MAX_WAIT, random.uniform(0, base * 2 ** (state.attempt_number - 1)))
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
) -> requests.Response:
    """GET `url` with retries; returns a 2xx/3xx/4xx (other than 401/403/429) response.

    `safe_url` is what appears in errors and logs (callers pass the URL without secrets).
    `wait_hint` may read a source-specific reset time from a 429 response.
    """
    shown = safe_url or url

    def attempt() -> requests.Response:
        try:
            resp = session.get(url, params=params, headers=headers, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:   # the last two: a body cut off mid-way
            raise RetryableHTTPError(f"{shown}: {type(exc).__name__}") from None
        if resp.status_code in (401, 403):
            raise ProviderAuthError(f"{shown}: HTTP {resp.status_code} (check the API key and plan)")
        if resp.status_code == 429:
            wait = (wait_hint(resp) if wait_hint else None)
            raise RetryableHTTPError(f"{shown}: HTTP 429 rate limited",
                                     wait if wait is not None else _retry_after(resp))
        if resp.status_code >= 500:
            raise RetryableHTTPError(f"{shown}: HTTP {resp.status_code}", _retry_after(resp))
        return resp

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=_wait(backoff),
        retry=retry_if_exception(lambda e: isinstance(e, RetryableHTTPError)),
        reraise=True,
        before_sleep=lambda s: log.warning("retrying after: %s", s.outcome.exception()),
    )
    return retrying(attempt)
