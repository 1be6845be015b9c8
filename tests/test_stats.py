"""Tests of the monthly statistics, with counts worked out by hand."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
from pathlib import Path
from types import SimpleNamespace

import pytest

from sigrekap import stats as stats_module
from sigrekap.domain import ComplaintRecord, Period
from sigrekap.lapor import parse_export
from sigrekap.stats import (
    FINISHED_STATUSES,
    UNFILLED_LABEL,
    compute_statistics,
    count_by,
    is_finished,
    percentile,
    reconcile,
)

FIXTURES = Path(
    os.environ.get(
        "SIGREKAP_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    )
)
NOVEMBER = Period(2026, 11)
D = dt.datetime


def complaint(tracking_id, received_at, status="Proses", finished_at=None, **fields):
    return ComplaintRecord(
        tracking_id=tracking_id,
        received_at=received_at,
        status=status,
        finished_at=finished_at,
        **fields,
    )


def november_sample():
    """Return thirteen complaints around November 2026 for hand-counted tests."""
    return [
        # Received in November.
        complaint("A", D(2026, 11, 1), "Selesai", D(2026, 11, 3),
                  category="Infrastruktur", channel="Website", unit="Dinas PU"),
        complaint("B", D(2026, 11, 1, 12), "Selesai", D(2026, 11, 2),
                  category="Infrastruktur", channel="SMS 1708", unit="Dinas PU"),
        complaint("C", D(2026, 11, 10, 8), "Proses",
                  category="Kesehatan", channel="Website", unit="Dinkes"),
        complaint("D", D(2026, 11, 20), "Diarsipkan", D(2026, 11, 30),
                  category=None, channel="", unit="Dinkes"),
        complaint("E", D(2026, 11, 25), "Proses",
                  category="  ", channel="Website", unit=None),
        # Finished at the first instant of December: open at the period end.
        complaint("F", D(2026, 11, 30, 23, 59, 59), "Selesai", D(2026, 12, 1),
                  category="Kesehatan", channel="Website", unit="Dinkes"),
        # A finished status without a finish date is not finished.
        complaint("M", D(2026, 11, 15, 10), "Selesai",
                  category="Infrastruktur", channel="SMS 1708", unit="Dinas PU"),
        # Received at the first instant of December: after the period.
        complaint("G", D(2026, 12, 1), "Proses"),
        # Received before November.
        complaint("H", D(2026, 10, 15), "Selesai", D(2026, 11, 5)),
        complaint("I", D(2026, 10, 1), "Proses"),
        complaint("J", D(2026, 10, 1), "Selesai", D(2026, 10, 20)),
        complaint("K", D(2026, 10, 31, 23, 59, 59), "Selesai", D(2026, 12, 2)),
        complaint("L", D(2026, 10, 20), "Selesai"),
    ]  # fmt: skip


@pytest.fixture
def november():
    return compute_statistics(november_sample(), NOVEMBER)


def ids(items):
    return [c.tracking_id for c in items]


def test_received_in_period(november):
    assert november.total_received == 7
    assert ids(november.received) == ["A", "B", "C", "M", "D", "E", "F"]


def test_by_status_sorted_by_count_then_label(november):
    assert november.by_status == [("Selesai", 4), ("Proses", 2), ("Diarsipkan", 1)]


def test_by_category_counts_empty_as_unfilled(november):
    assert november.by_category == [
        ("Infrastruktur", 3),
        (UNFILLED_LABEL, 2),
        ("Kesehatan", 2),
    ]


def test_by_channel_and_unit(november):
    assert november.by_channel == [("Website", 4), ("SMS 1708", 2), (UNFILLED_LABEL, 1)]
    assert november.by_unit == [("Dinas PU", 3), ("Dinkes", 3), (UNFILLED_LABEL, 1)]


def test_per_day_covers_every_day(november):
    per_day = dict(november.per_day)
    assert len(november.per_day) == 30
    assert november.per_day[0] == (dt.date(2026, 11, 1), 2)
    assert november.per_day[-1] == (dt.date(2026, 11, 30), 1)
    assert per_day[dt.date(2026, 11, 2)] == 0
    assert per_day[dt.date(2026, 11, 10)] == 1
    assert per_day[dt.date(2026, 11, 15)] == 1
    assert per_day[dt.date(2026, 11, 20)] == 1
    assert per_day[dt.date(2026, 11, 25)] == 1
    assert sum(per_day.values()) == 7


def test_finished_count_and_share(november):
    # A, B and D; F was finished after the period end, M has no finish date.
    assert november.finished_count == 3
    assert november.finished_share == pytest.approx(3 / 7)


def test_days_to_finish_median_and_p90(november):
    # Durations are 2.0 (A), 0.5 (B) and 10.0 (D) days, sorted 0.5, 2.0, 10.0.
    # p90 sits at position 0.9 * 2 = 1.8, so it is 2.0 + 0.8 * (10.0 - 2.0) = 8.4.
    assert november.median_days_to_finish == pytest.approx(2.0)
    assert november.p90_days_to_finish == pytest.approx(8.4)


def test_overdue_open(november):
    # C is open 20.67 days and M 15.58 days at 1 December; E only 6 days.
    assert ids(november.overdue_open) == ["C", "M"]
    assert november.as_of == D(2026, 12, 1)


def test_overdue_threshold_is_strict():
    exactly = complaint("X", D(2026, 11, 17))
    longer = complaint("Y", D(2026, 11, 16, 23, 59))
    result = compute_statistics([exactly, longer], NOVEMBER, open_threshold_days=14)
    assert ids(result.overdue_open) == ["Y"]


def test_carried_over(november):
    # H finished in November, I and L are still open, K finished in December.
    assert ids(november.carried_over) == ["I", "H", "L", "K"]


def test_excluded_with_reasons(november):
    assert [(c.tracking_id, reason) for c, reason in november.excluded] == [
        ("G", "received_after_period"),
        ("J", "finished_before_period"),
    ]


def test_reconciliation_balances(november):
    result = november.reconciliation
    assert result.total == 13
    assert result.received_in_period == 7
    assert result.carried_over == 4
    assert result.excluded == {"received_after_period": 1, "finished_before_period": 1}
    assert result.balanced


def test_reconciliation_detects_double_counting(monkeypatch):
    def faulty(complaint, period):
        return complaint.received_at < period.end

    monkeypatch.setattr(stats_module, "is_carried_over", faulty)
    result = reconcile(november_sample(), NOVEMBER)
    assert not result.balanced
    assert result.counted_twice == ["A", "B", "C", "D", "E", "F", "M", "J"]


def test_reconciliation_detects_dropped_complaint(monkeypatch):
    monkeypatch.setattr(
        stats_module, "exclusion_reason", lambda complaint, period: None
    )
    result = reconcile(november_sample(), NOVEMBER)
    assert not result.balanced
    assert result.unclassified == ["G", "J"]


def test_missing_received_date_excluded():
    broken = SimpleNamespace(
        tracking_id="Z", received_at=None, status="Proses", finished_at=None,
        category=None, channel=None, unit=None,
    )  # fmt: skip
    result = compute_statistics([broken], NOVEMBER)
    assert result.total_received == 0
    assert result.excluded == [(broken, "missing_received_date")]
    assert result.reconciliation.balanced


def test_as_of_later_changes_finished_and_overdue():
    result = compute_statistics(november_sample(), NOVEMBER, as_of=D(2026, 12, 15))
    # F finished on 1 December, before 15 December: now finished (1 second).
    assert result.finished_count == 4
    # E is now open 20 days, and C and M are still open.
    assert ids(result.overdue_open) == ["C", "M", "E"]
    # Carried over is measured at the period bounds, not at as_of.
    assert ids(result.carried_over) == ["I", "H", "L", "K"]


def test_duplicate_input_objects_are_not_merged():
    same = complaint("A", D(2026, 11, 1))
    result = compute_statistics([same, same], NOVEMBER)
    assert result.total_received == 2
    assert result.reconciliation.total == 2


def test_december_to_january_boundary():
    december = Period(2026, 12)
    items = [
        complaint("last", D(2026, 12, 31, 23, 59, 59)),
        complaint("next", D(2027, 1, 1)),
        complaint("first", D(2026, 12, 1)),
        complaint("before", D(2026, 11, 30, 23, 59, 59), "Selesai", D(2026, 12, 1)),
    ]
    result = compute_statistics(items, december)

    assert ids(result.received) == ["first", "last"]
    assert len(result.per_day) == 31
    assert result.per_day[-1] == (dt.date(2026, 12, 31), 1)
    assert ids(result.carried_over) == ["before"]
    assert [(c.tracking_id, r) for c, r in result.excluded] == [
        ("next", "received_after_period")
    ]
    assert result.as_of == D(2027, 1, 1)


def test_finished_at_period_start_is_carried_over():
    # Finished at exactly 00:00 of the first day counts as inside the period.
    item = complaint("X", D(2026, 10, 20), "Selesai", D(2026, 11, 1))
    result = compute_statistics([item], NOVEMBER)
    assert ids(result.carried_over) == ["X"]


def test_leap_february_has_29_days():
    result = compute_statistics([], Period(2028, 2))
    assert len(result.per_day) == 29


def test_empty_period():
    result = compute_statistics([], NOVEMBER)
    assert result.total_received == 0
    assert result.finished_count == 0
    assert result.finished_share == 0.0
    assert result.median_days_to_finish is None
    assert result.p90_days_to_finish is None
    assert result.by_status == []
    assert [count for _, count in result.per_day] == [0] * 30
    assert result.reconciliation.balanced


def test_orm_like_objects_accepted():
    item = SimpleNamespace(
        tracking_id="1", received_at=D(2026, 11, 2), status="Bukan Kewenangan",
        finished_at=D(2026, 11, 3, 12), category="Sosial", channel="Website",
        unit="Dinsos",
    )  # fmt: skip
    result = compute_statistics([item], NOVEMBER)
    assert result.finished_count == 1
    assert result.median_days_to_finish == pytest.approx(1.5)


def test_finish_before_receipt_left_out_of_durations():
    items = [
        complaint("ok", D(2026, 11, 1), "Selesai", D(2026, 11, 4)),
        complaint("bad", D(2026, 11, 5), "Selesai", D(2026, 11, 2)),
    ]
    result = compute_statistics(items, NOVEMBER)
    assert result.finished_count == 2
    assert result.median_days_to_finish == pytest.approx(3.0)


def test_finished_statuses_constant():
    assert FINISHED_STATUSES == {"Selesai", "Diarsipkan", "Bukan Kewenangan"}


@pytest.mark.parametrize(
    ("status", "finished_at", "as_of", "expected"),
    [
        ("Selesai", D(2026, 11, 5), None, True),
        (" selesai ", D(2026, 11, 5), None, True),
        ("Diarsipkan", D(2026, 11, 5), None, True),
        ("Bukan Kewenangan", D(2026, 11, 5), None, True),
        ("Selesai", None, None, False),
        ("Proses", D(2026, 11, 5), None, False),
        (None, D(2026, 11, 5), None, False),
        ("Selesai", D(2026, 12, 1), D(2026, 12, 1), False),
        ("Selesai", D(2026, 11, 30), D(2026, 12, 1), True),
    ],
)
def test_is_finished(status, finished_at, as_of, expected):
    item = complaint("X", D(2026, 11, 1), status, finished_at)
    assert is_finished(item, as_of) is expected


def test_count_by_ties_sorted_by_label():
    items = [
        complaint(str(n), D(2026, 11, 1), category=c) for n, c in enumerate("bacab")
    ]
    assert count_by(items, "category") == [("a", 2), ("b", 2), ("c", 1)]


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([4.0], 0.5, 4.0),
        ([4.0], 0.9, 4.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
        ([10.0, 0.0, 5.0], 0.9, 9.0),
        ([1.0, 2.0, 3.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0], 1.0, 3.0),
    ],
)
def test_percentile_by_hand(values, fraction, expected):
    if expected is None:
        assert percentile(values, fraction) is None
    else:
        assert percentile(values, fraction) == pytest.approx(expected)


@pytest.mark.parametrize(
    "values",
    [
        [0.5, 2.0, 10.0],
        [3.0, 1.0],
        [1.25, 7.5, 2.0, 9.0, 4.0, 4.0, 0.1],
        list(range(11)),
    ],
)
def test_percentile_matches_statistics_inclusive(values):
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    assert percentile(values, 0.9) == pytest.approx(deciles[8])
    assert percentile(values, 0.5) == pytest.approx(statistics.median(values))


def test_percentile_rejects_fraction_out_of_range():
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1.0], 1.5)


def test_to_dict_is_json_ready(november):
    data = json.loads(json.dumps(november.to_dict()))

    assert data["period"] == "2026-11"
    assert data["period_label"] == "November 2026"
    assert data["total_received"] == 7
    assert data["by_status"][0] == {"label": "Selesai", "count": 4}
    assert data["per_day"][0] == {"date": "2026-11-01", "count": 2}
    assert len(data["per_day"]) == 30
    assert data["finished_count"] == 3
    assert data["median_days_to_finish"] == pytest.approx(2.0)
    assert data["overdue_open_ids"] == ["C", "M"]
    assert data["carried_over_count"] == 4
    assert data["excluded"] == {"received_after_period": 1, "finished_before_period": 1}
    assert data["reconciliation"]["balanced"] is True
    assert data["as_of"] == "2026-12-01T00:00:00"


@pytest.mark.parametrize("name", ["lapor-2026-11.xlsx", "lapor-2026-11.csv"])
def test_sample_export_statistics(name):
    expected_path = FIXTURES / "lapor-2026-11.expected.json"
    if not expected_path.exists():
        pytest.skip(f"sample export not found in {FIXTURES}")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    parsed = parse_export((FIXTURES / name).read_bytes(), name)

    result = compute_statistics(parsed.records, Period.parse(expected["period"]))

    assert len(parsed.records) == expected["rows_total"]
    assert result.total_received == expected["received_in_period"]
    assert dict(result.by_status) == expected["by_status_received_in_period"]
    assert dict(result.by_category) == expected["by_category_received_in_period"]
    assert dict(result.by_channel) == expected["by_channel_received_in_period"]
    assert sum(count for _, count in result.per_day) == expected["received_in_period"]
    counts = [count for _, count in result.by_status]
    assert counts == sorted(counts, reverse=True)
    reconciliation = result.reconciliation
    assert reconciliation.balanced
    assert reconciliation.total == expected["rows_total"]


@pytest.mark.parametrize(
    "status, finished",
    [
        ("Selesai", True),
        (" selesai ", True),
        ("Bukan  Kewenangan", True),
        ("Bukan\xa0Kewenangan", True),
        ("Proses", False),
        ("", False),
        (None, False),
    ],
)
def test_finished_status_ignores_case_and_spacing(status, finished):
    assert stats_module.is_finished_status(status) is finished


def test_status_rows_merge_spelling_variants():
    rows = [("Selesai",), ("SELESAI",), (" selesai ",), ("Proses",), ("Sedang Dibahas",)]
    complaints = [type("C", (), {"status": status})() for (status,) in rows]
    counts = dict(stats_module.count_by(complaints, "status", stats_module.status_label))
    assert counts == {"Selesai": 3, "Proses": 1, "Sedang Dibahas": 1}
