"""Bytes of a CSV file to text, row by row where it matters: one stray byte must not re-decode the good rows.

Order: a BOM (UTF-8, UTF-16, UTF-32) decides; UTF-16 without a BOM is told by its NUL bytes; binary content is
refused (BadFile). Otherwise the file is read as UTF-8 (football-data.co.uk's files are UTF-8 today). When some
lines are not UTF-8, only those lines are decoded otherwise: as the legacy encoding charset-normalizer finds for
them together, among LEGACY_ENCODINGS (the site's older files are Western European, Windows-1252/Latin-1; on a
few short lines the detector's free guess is often a Central or Eastern European code page, which turns à into
ŕ, so the guess is held to these). A UTF-8 file with such lines says so in one log line per line; a file that is
all legacy text (no UTF-8 line with a non-ASCII character) is simply read in its encoding.
"""

from __future__ import annotations

import logging

from pipeline.providers.base import ProviderError

log = logging.getLogger(__name__)

LEGACY_ENCODINGS = ("cp1252", "latin_1")
FALLBACK = "cp1252"


class BadFile(ProviderError):
    """A file that is not a football-data CSV; its message names the file and why."""


def decode(raw: bytes, label: str) -> str:
    """The text of a CSV file (see the module's docstring). A binary file raises BadFile."""
    for bom, enc in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                return raw.decode(enc)
            except UnicodeDecodeError:
                raise BadFile(f"{label}: not a football-data CSV (invalid {enc.upper()} text)") from None
    head = raw[:4096]
    if head.count(0) > len(head) // 4:  # UTF-16 without a BOM puts a NUL beside every ASCII character
        odd, even = head[1::2].count(0), head[0::2].count(0)
        guess = "utf-16-le" if odd > 3 * even else "utf-16-be" if even > 3 * odd else None
        try:
            if guess:
                return raw.decode(guess)
        except UnicodeDecodeError:
            pass
        raise BadFile(f"{label}: not a football-data CSV (binary content)")
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if controls > len(head) // 20:  # text has next to none; a stray NUL in a team name is not this
        raise BadFile(f"{label}: not a football-data CSV (binary content)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _by_line(raw, label)


def _by_line(raw: bytes, label: str) -> str:
    lines = raw.split(b"\n")
    if lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    text: list[str | None] = []
    bad: list[int] = []
    utf8_non_ascii = False
    for i, line in enumerate(lines):
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            text.append(None)
            bad.append(i)
            continue
        utf8_non_ascii = utf8_non_ascii or not line.isascii()
        text.append(decoded)
    encoding = legacy_encoding(b"\n".join(lines[i] for i in bad))
    for i in bad:
        text[i] = lines[i].decode(encoding, errors="replace")
        if utf8_non_ascii:
            log.warning("%s:%d: not UTF-8 like the rest of the file; this line read as %s", label, i + 1, encoding)
    if not utf8_non_ascii:
        log.info("%s: not UTF-8; read as %s", label, encoding)
    return "\n".join(t or "" for t in text)


def legacy_encoding(sample: bytes) -> str:
    """charset-normalizer's choice for `sample` among LEGACY_ENCODINGS, else FALLBACK."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=list(LEGACY_ENCODINGS)).best()
    return best.encoding if best is not None and best.encoding in LEGACY_ENCODINGS else FALLBACK


__all__ = ["BadFile", "LEGACY_ENCODINGS", "decode", "legacy_encoding"]
