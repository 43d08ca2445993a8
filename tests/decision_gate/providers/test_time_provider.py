"""The `time` provider answers from the trigger's time only, with the reference's messages."""

from __future__ import annotations

from typing import Any

import pytest

from decision_gate.core.evidence import JsonEvidence
from decision_gate.core.model import EvidenceQuery, Logical, Timestamp, UnixMillis
from decision_gate.providers.time import TimeProvider
from decision_gate.seams.evidence_provider import EvidenceProviderFailure


def answer(check: str, params: Any, now: Timestamp, **config: bool) -> Any:
    result = TimeProvider(**config).answer(EvidenceQuery("time", check, params), now)
    assert isinstance(result.value, JsonEvidence)
    return result.value.value


def test_now_returns_the_trigger_time() -> None:
    assert answer("now", None, UnixMillis(1_710_000_000_000)) == 1_710_000_000_000


def test_after_is_strict() -> None:
    assert answer("after", {"timestamp": 5}, Logical(6)) is True
    assert answer("after", {"timestamp": 5}, Logical(5)) is False


def test_before_is_strict() -> None:
    assert answer("before", {"timestamp": 5}, Logical(4)) is True
    assert answer("before", {"timestamp": 5}, Logical(5)) is False


def test_rfc3339_threshold_honours_its_offset() -> None:
    # 2024-01-01T01:00:00+01:00 is midnight UTC = 1704067200000 ms.
    threshold = {"timestamp": "2024-01-01T01:00:00+01:00"}
    assert answer("after", threshold, UnixMillis(1_704_067_200_001)) is True
    assert answer("after", threshold, UnixMillis(1_704_067_200_000)) is False


def test_anchor_names_the_trigger_time() -> None:
    result = TimeProvider().answer(EvidenceQuery("time", "now", None), Logical(42))
    assert result.evidence_anchor is not None
    assert (result.evidence_anchor.anchor_type, result.evidence_anchor.anchor_value) == (
        "trigger_time_logical",
        "42",
    )
    assert result.content_type == "application/json"


@pytest.mark.parametrize(
    ("check", "params", "now", "message"),
    [
        ("after", None, Logical(1), "time check requires params"),
        ("after", [1], Logical(1), "time params must be an object"),
        ("after", {}, Logical(1), "missing timestamp param"),
        ("after", {"timestamp": "yesterday"}, UnixMillis(1), "invalid rfc3339 timestamp"),
        ("after", {"timestamp": True}, UnixMillis(1), "timestamp must be number or string"),
        ("after", {"timestamp": 1.5}, UnixMillis(1), "invalid numeric timestamp"),
        ("after", {"timestamp": 2**63}, UnixMillis(1), "timestamp exceeds i64 range"),
        ("after", {"timestamp": -1}, Logical(1), "logical timestamp must be unsigned"),
        (
            "after",
            {"timestamp": "2024-01-01T00:00:00Z"},
            Logical(1),
            "logical timestamp must be numeric",
        ),
        ("sometime", None, Logical(1), "unsupported time check"),
    ],
)
def test_bad_queries_fail_with_the_reference_message(
    check: str, params: Any, now: Timestamp, message: str
) -> None:
    with pytest.raises(EvidenceProviderFailure, match=f"^{message}$"):
        TimeProvider().answer(EvidenceQuery("time", check, params), now)


def test_logical_time_can_be_refused() -> None:
    with pytest.raises(EvidenceProviderFailure, match="logical timestamps are not permitted"):
        answer("now", None, Logical(1), allow_logical=False)
