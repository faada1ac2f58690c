"""Two-way markets through the margin-removal methods, and football-data's columns for them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from pipeline.markets import FdColumns, Market, Selection, fd_columns, fd_row_prices
from pipeline.odds import METHODS, implied_probabilities, overround

TWO_WAY = np.array([[1.90, 1.95], [1.50, 2.60], [2.05, 1.80], [1.25, 4.10]])
DATA = ROOT.parent / "shared" / "data" / "football-data" / "mmz4281"


@pytest.mark.parametrize("method", METHODS)
def test_two_columns_stay_two_columns(method):
    p = implied_probabilities(TWO_WAY, method)
    assert p.shape == (4, 2)
    assert p.sum(axis=1) == pytest.approx(1.0)
    # three rows of two are not two rows of three (the old reshape(-1, 3) read them so)
    assert implied_probabilities(TWO_WAY[:3], method).shape == (3, 2)
    assert np.isnan(implied_probabilities([[1.9, np.nan], [1.0, 3.0]], method)).all()
    assert overround(TWO_WAY)[0] == pytest.approx(1 / 1.90 + 1 / 1.95 - 1)


def test_triples_read_as_before():
    flat = [2.0, 3.5, 4.0, 1.5, 4.2, 7.0]  # a flat list is still home/draw/away triples
    assert implied_probabilities(flat).shape == (2, 3)


def test_shin_two_way_by_hand():
    """1.90 / 1.95 by hand: pi = 1/1.90 = 0.5263158, 1/1.95 = 0.5128205, booksum B = 1.0391363.
    Shin's p_i = (sqrt(z^2 + 4 (1 - z) pi_i^2 / B) - z) / (2 (1 - z)); for two outcomes the z that makes them sum
    to 1 gives p_i = pi_i - (B - 1) / 2 (the margin split equally), z = (pi_1^2 / B - p_1^2) / (p_1 p_2)."""
    p1, p2 = 0.5263158 - 0.0391363 / 2, 0.5128205 - 0.0391363 / 2  # 0.5067477, 0.4932524
    got = implied_probabilities([[1.90, 1.95]], "shin")[0]
    assert got == pytest.approx([p1, p2], abs=1e-6)
    z = (0.5263158**2 / 1.0391363 - p1**2) / (p1 * p2)  # (0.2665755 - 0.2567932) / 0.2499545: the insider share
    assert z == pytest.approx(0.039137, abs=1e-5)
    for pi, p in ((0.5263158, p1), (0.5128205, p2)):  # the model's own formula at that z
        assert (np.sqrt(z**2 + 4 * (1 - z) * pi**2 / 1.0391363) - z) / (2 * (1 - z)) == pytest.approx(p, abs=1e-6)


def test_power_and_multiplicative_two_way_by_hand():
    inv = np.array([1 / 1.5, 1 / 2.6])
    assert implied_probabilities([[1.5, 2.6]])[0] == pytest.approx(inv / inv.sum())
    p = implied_probabilities([[1.5, 2.6]], "power")[0]
    k = np.log(p[0]) / np.log(inv[0])
    assert inv**k == pytest.approx(p, abs=1e-9)  # one exponent for both
    assert p[1] < inv[1] / inv.sum()  # more margin off the long shot


def test_columns_of_every_layout():
    header = [
        "P>2.5",
        "P<2.5",
        "PC>2.5",
        "PC<2.5",
        "B365C>2.5",
        "B365C<2.5",
        "Max>2.5",
        "Max<2.5",  # fmt: skip
        "VC>1.5",
        "VC<1.5",
        "VCC>3.5",
        "VCC<3.5",
        "B365>2.75",  # another line; a half pair  # fmt: skip
        "AHh",
        "AHCh",
        "PAHH",
        "PAHA",
        "PCAHH",
        "PCAHA",
        "BbAH",
        "BbAHh",
        "BbAvAHH",
        "BbAvAHA",
        "GBAH",
        "GBAHH",  # fmt: skip
        "GBAHA",
        "B365AHH",
        "B365AHA",
        "BbOU",  # fmt: skip
    ]
    got = {(c.market, c.bookmaker, c.closing, c.line, c.line_column): c.columns for c in fd_columns(header)}
    assert got == {
        (Market.OU, "Pinnacle", False, 2.5, None): ("P>2.5", "P<2.5"),
        (Market.OU, "Pinnacle", True, 2.5, None): ("PC>2.5", "PC<2.5"),
        (Market.OU, "Bet365", True, 2.5, None): ("B365C>2.5", "B365C<2.5"),
        (Market.OU, "Market max", False, 2.5, None): ("Max>2.5", "Max<2.5"),
        (Market.OU, "VC Bet", False, 1.5, None): ("VC>1.5", "VC<1.5"),
        (Market.OU, "VC Bet", True, 3.5, None): ("VCC>3.5", "VCC<3.5"),
        (Market.AH, "Pinnacle", False, None, "AHh"): ("PAHH", "PAHA"),
        (Market.AH, "Pinnacle", True, None, "AHCh"): ("PCAHH", "PCAHA"),
        (Market.AH, "Betbrain average", False, None, "BbAHh"): ("BbAvAHH", "BbAvAHA"),
        (Market.AH, "Gamebookers", False, None, "GBAH"): ("GBAHH", "GBAHA"),
        (Market.AH, "Bet365", False, None, "AHh"): ("B365AHH", "B365AHA"),
    }
    bettable = {c.bookmaker: c.bettable for c in fd_columns(header)}
    assert bettable["Market max"] is False and bettable["Betbrain average"] is False and bettable["Pinnacle"]


def test_every_shared_file_has_its_two_way_columns_found():
    seen = set()
    for path in sorted(DATA.glob("*/*.csv")):
        header = path.read_bytes().split(b"\n", 1)[0].decode("latin-1").strip().split(",")
        sets = fd_columns(header)
        found = {c for cs in sets for c in (*cs.columns, cs.line_column)}
        two_way = {h for h in header if (">" in h or "<" in h or h.endswith(("AHH", "AHA")))}
        assert two_way <= found, (path, two_way - found)
        seen |= {(cs.market, cs.bookmaker, cs.closing) for cs in sets}
    assert (Market.OU, "Pinnacle", True) in seen and (Market.AH, "Bet365", False) in seen


def test_row_prices_name_what_they_skip():
    sets = [
        FdColumns(Market.OU, "P", False, ("P>2.5", "P<2.5"), line=2.5),
        FdColumns(Market.AH, "B365", False, ("B365AHH", "B365AHA"), line_column="AHh"),
        FdColumns(Market.AH, "P", True, ("PCAHH", "PCAHA"), line_column="AHCh"),
    ]
    row = {"P>2.5": "1.8", "P<2.5": "2.1", "AHh": "-0.3", "B365AHH": "1.9", "B365AHA": "1.95", "AHCh": "", "PCAHH": ""}
    prices, problems = fd_row_prices(row, "E0-2324-a-b", sets)
    assert [(p.bookmaker, str(p.selection), p.price) for p in prices] == [
        ("Pinnacle", "OU 2.5 over", 1.8),
        ("Pinnacle", "OU 2.5 under", 2.1),
    ]
    assert len(problems) == 1 and "B365AHH/B365AHA" in problems[0] and "0.25" in problems[0]
    row |= {"AHh": "-0.25", "B365AHA": "0.95"}
    prices, problems = fd_row_prices(row, "m", sets)
    assert len(prices) == 2 and "not both above 1" in problems[0]
    row |= {"B365AHA": "1.95"}
    prices, problems = fd_row_prices(row, "m", sets)
    assert not problems and prices[2].selection == Selection("AH", -0.25, "home") and prices[3].price == 1.95
