"""The price-error guards' settings (pipeline.betting.guards): one frozen dataclass, its defaults the one source
of the configuration's (pipeline.config reads them, and parses the environment with `parse_setting`). A leaf
module: the configuration may import it without importing the betting package.

Defaults chosen on top-5 2014-15..2018-19 (bench/guards_study.py; the reasons in pipeline.betting.guards).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

_OFF = frozenset({"none", "off"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class GuardSettingsError(ValueError):
    """A guard setting out of range or unreadable; the message names the environment variable."""


@dataclass(frozen=True)
class GuardSettings:
    max_edge: float | None = 0.175
    max_price_ratio: float | None = 1.5
    sharp_booksum_min: float = 1.00
    sharp_booksum_max: float = 1.12
    max_soft_age_minutes: float | None = 180.0
    max_sharp_age_minutes: float | None = 180.0
    soft_outlier_margin: float | None = 0.25
    soft_outlier_min_books: int = 2
    allow_model_fair: bool = False
    # The two-way markets' (over/under, Asian handicap) EV ceiling, in place of max_edge: their fair edges at the
    # slower soft books are larger (bench/markets_study.py), and the 1X2 ceiling would cut the bets that carry it.
    two_way_max_edge: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "allow_model_fair":
                if not isinstance(v, bool):
                    raise GuardSettingsError(f"{SETTING_NAMES[f.name]} must be true or false, got {v!r}")
                continue
            if v is None and f.name in _OPTIONAL:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise GuardSettingsError(f"{SETTING_NAMES[f.name]} must be a finite number, got {v!r}")
        name = SETTING_NAMES
        for attr in ("max_edge", "two_way_max_edge"):
            v = getattr(self, attr)
            if v is not None and v <= 0:
                raise GuardSettingsError(f"{name[attr]} must be above 0 (or none), got {v}")
        if self.max_price_ratio is not None and self.max_price_ratio <= 1:
            raise GuardSettingsError(f"{name['max_price_ratio']} must be above 1 (or none), got {self.max_price_ratio}")
        if not 0.5 <= self.sharp_booksum_min < self.sharp_booksum_max <= 2.0:
            raise GuardSettingsError(
                f"{name['sharp_booksum_min']} ({self.sharp_booksum_min}) must be below {name['sharp_booksum_max']} "
                f"({self.sharp_booksum_max}), both within 0.5..2.0 (the sum of 1/price of the sharp book's 1X2)"
            )
        for attr in ("max_soft_age_minutes", "max_sharp_age_minutes", "soft_outlier_margin"):
            v = getattr(self, attr)
            if v is not None and v <= 0:
                raise GuardSettingsError(f"{name[attr]} must be above 0 (or none), got {v}")
        if self.soft_outlier_min_books < 1 or int(self.soft_outlier_min_books) != self.soft_outlier_min_books:
            raise GuardSettingsError(
                f"{name['soft_outlier_min_books']} must be a whole number >= 1, got {self.soft_outlier_min_books}"
            )

    def for_market(self, market: str) -> GuardSettings:
        """The guards a market's candidates are judged by: 1X2 as set; a two-way market with TWO_WAY_MAX_EDGE as
        its EV ceiling (every other guard the same)."""
        return self if market == "1X2" else dataclasses.replace(self, max_edge=self.two_way_max_edge)

    @classmethod
    def from_settings(cls, values: Mapping[str, object]) -> GuardSettings:
        """From environment-style values (SETTING_NAMES' keys; other keys are ignored, empty means default).
        Strings are parsed; "none"/"off" turns a numeric guard off."""
        kwargs: dict[str, object] = {}
        for attr, env in SETTING_NAMES.items():
            raw = values.get(env)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            kwargs[attr] = _parse(attr, env, raw)
        return cls(**kwargs)  # type: ignore[arg-type]


# field -> environment variable
SETTING_NAMES = {
    "max_edge": "MAX_EDGE",
    "max_price_ratio": "MAX_PRICE_RATIO",
    "sharp_booksum_min": "SHARP_BOOKSUM_MIN",
    "sharp_booksum_max": "SHARP_BOOKSUM_MAX",
    "max_soft_age_minutes": "MAX_SOFT_PRICE_AGE",
    "max_sharp_age_minutes": "MAX_SHARP_PRICE_AGE",
    "soft_outlier_margin": "SOFT_OUTLIER_MARGIN",
    "soft_outlier_min_books": "SOFT_OUTLIER_MIN_BOOKS",
    "allow_model_fair": "ALLOW_MODEL_FAIR",
    "two_way_max_edge": "TWO_WAY_MAX_EDGE",
}
_OPTIONAL = frozenset(
    {
        "max_edge",
        "two_way_max_edge",
        "max_price_ratio",
        "max_soft_age_minutes",
        "max_sharp_age_minutes",
        "soft_outlier_margin",
    }
)


def parse_setting(env: str, raw: object) -> object:
    """One guard setting's environment value (SETTING_NAMES' values) as its field takes it; raises
    GuardSettingsError naming `env`. Each value alone: the ranges across fields are GuardSettings' checks."""
    attr = next(a for a, e in SETTING_NAMES.items() if e == env)
    value = _parse(attr, env, raw)
    if isinstance(value, float) and not math.isfinite(value):
        raise GuardSettingsError(f"{env} must be a finite number, got {raw!r}")
    return value


def _parse(attr: str, env: str, raw: object) -> object:
    if attr == "allow_model_fair":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise GuardSettingsError(f"{env} must be true or false, got {raw!r}")
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _OFF:
            if attr not in _OPTIONAL:
                raise GuardSettingsError(f"{env} cannot be turned off, got {raw!r}")
            return None
        try:
            value = float(text)
        except ValueError:
            raise GuardSettingsError(f"{env} must be a number, got {raw!r}") from None
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    else:
        raise GuardSettingsError(f"{env} must be a number, got {raw!r}")
    if attr == "soft_outlier_min_books":
        if not value.is_integer():
            raise GuardSettingsError(f"{env} must be a whole number >= 1, got {raw!r}")
        return int(value)
    return value


__all__ = ["SETTING_NAMES", "GuardSettings", "GuardSettingsError", "parse_setting"]
