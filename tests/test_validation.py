"""The deploy gate's rules on typed records (pipeline.forecast.validation): each threshold, the comparison with
the deployed set and its tolerance, reasons found before training first, and the JSON that model_versions.metrics
and metadata.json store."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pipeline.forecast.validation import Comparison, Scores, Thresholds, TrainingScores, judge
from pipeline.metrics import score_all

T = Thresholds(max_log_loss=1.0, min_accuracy=0.5, max_brier=0.6, deploy_tolerance=0.005)
GOOD = Scores(n=300, log_loss=0.97, brier=0.58, rps=0.20, accuracy=0.52)


def scores(ensemble: Scores = GOOD) -> TrainingScores:
    return TrainingScores(300, (("ensemble", ensemble), ("elo", dataclasses.replace(GOOD, log_loss=0.99))))


def compared(deployed: float, candidate: float) -> Comparison:
    return Comparison(
        True,
        n=150,
        deployed=dataclasses.replace(GOOD, n=150, log_loss=deployed),
        candidate=dataclasses.replace(GOOD, n=150, log_loss=candidate),
    )


def test_a_candidate_clearing_every_threshold_passes():
    v = judge(scores(), Comparison(False, "no deployed set"), T)
    assert v.passed and v.reasons == ()


@pytest.mark.parametrize(
    "change, says",
    [
        ({"log_loss": 1.0}, "log loss 1.0000 not below MAX_LOG_LOSS 1.0"),
        ({"accuracy": 0.5}, "accuracy 0.500 not above MIN_ACCURACY 0.5"),
        ({"brier": 0.61}, "Brier 0.6100 not below MAX_BRIER 0.6"),
        ({"log_loss": float("nan")}, "log loss nan not below MAX_LOG_LOSS"),  # NaN never passes
    ],
)
def test_each_threshold_is_a_reason(change, says):
    v = judge(scores(dataclasses.replace(GOOD, **change)), Comparison(False, "no deployed set"), T)
    assert not v.passed and len(v.reasons) == 1 and v.reasons[0].startswith(says)


def test_worse_than_the_deployed_set_beyond_the_tolerance_is_a_reason():
    assert judge(scores(), compared(0.970, 0.975), T).passed  # within the tolerance
    v = judge(scores(), compared(0.970, 0.9751), T)
    assert v.reasons == (
        "log loss 0.9751 worse than the deployed set's 0.9700 on the same 150 matches (tolerance 0.005)",
    )
    assert judge(scores(), Comparison(False, "only 20 held-out matches"), T).passed  # not possible: not judged


def test_problems_found_before_training_come_first():
    v = judge(scores(dataclasses.replace(GOOD, brier=0.7)), Comparison(False, "x"), T, ("the newest result is old",))
    assert v.reasons[0] == "the newest result is old" and v.reasons[1].startswith("Brier")


def test_the_stored_json_keeps_its_shape():
    p = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.4, 0.4, 0.2]])
    y = np.array([0, 2, 1])
    s = Scores.of(p, y)
    assert s.as_dict() == score_all(p, y) and list(s.as_dict()) == list(score_all(p, y))
    v = judge(scores(), compared(0.98, 0.97), T)
    report = json.loads(json.dumps(v.report()))
    assert list(report) == ["validation", "comparison", "gate_failures", "thresholds"]
    assert report["validation"]["ensemble"] == GOOD.as_dict() and list(report["validation"]) == ["ensemble", "elo"]
    assert report["comparison"]["possible"] and report["comparison"]["n"] == 150
    assert report["comparison"]["candidate"]["log_loss"] == 0.97 and report["gate_failures"] == []
    assert report["thresholds"] == {
        "max_log_loss": 1.0,
        "min_accuracy": 0.5,
        "max_brier": 0.6,
        "deploy_tolerance": 0.005,
    }
    assert Comparison(False, "no deployed set").as_dict() == {"possible": False, "reason": "no deployed set"}


def test_the_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        GOOD.log_loss = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        judge(scores(), Comparison(False, "x"), T).reasons = ()  # type: ignore[misc]
