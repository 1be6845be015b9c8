"""Monthly complaint statistics for a recap.

Rules, all on naive WIB datetimes:

- The main tables (status, category, channel, unit, per day, finished share,
  days to finish) cover the complaints received in the period.
- A complaint is finished when its status is one of ``FINISHED_STATUSES``
  and it has a finish date. Finished "as of" a moment also needs that date to
  be before the moment. The tables count a complaint as finished when it was
  finished as of ``as_of``, which defaults to the end of the period, so a
  complaint closed in the next month is open in this month's recap.
- Days to finish are ``finished_at - received_at`` in fractional days. The
  median and the 90th percentile use linear interpolation between order
  statistics, the "inclusive" method of ``statistics.quantiles``.
- Every input complaint is either received in the period, carried over from
  an earlier period, or excluded with a reason. ``reconcile`` checks that.
- Overdue complaints are those received in the period and still open at
  ``as_of`` after more than ``open_threshold_days`` days.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .domain import Period

logger = logging.getLogger(__name__)

# Statuses that end a complaint in LAPOR!. A complaint with one of these and a
# finish date counts as finished.
FINISHED_STATUSES = frozenset({"Selesai", "Diarsipkan", "Bukan Kewenangan"})
_FINISHED_KEYS = frozenset(status.casefold() for status in FINISHED_STATUSES)
#: Statuses seen in LAPOR! exports. An import warns about any other value,
#: because the recap counts it as not finished.
LAPOR_STATUSES = (
    "Belum Diverifikasi",
    "Belum Ditindaklanjuti",
    "Proses",
    "Ditunda",
    *sorted(FINISHED_STATUSES),
)
_LAPOR_STATUS_KEYS = frozenset(status.casefold() for status in LAPOR_STATUSES)
_CANONICAL_STATUSES = {status.casefold(): status for status in LAPOR_STATUSES}

# Label under which empty or missing values are counted in the tables.
UNFILLED_LABEL = "(Tidak diisi)"

# Reasons for leaving a complaint out of both the tables and the carried-over
# list, with their Indonesian labels.
EXCLUSION_REASONS = {
    "received_after_period": "Diterima setelah periode",
    "finished_before_period": "Diterima dan selesai sebelum periode",
    "missing_received_date": "Tanggal laporan kosong",
}


@dataclass(frozen=True)
class Reconciliation:
    """Split of the input complaints between the recap's lists."""

    total: int
    received_in_period: int
    carried_over: int
    excluded: dict[str, int]
    # Tracking ids that matched no list or more than one. Both stay empty
    # unless the classification rules contradict each other.
    unclassified: list[str] = field(default_factory=list)
    counted_twice: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        accounted = (
            self.received_in_period + self.carried_over + sum(self.excluded.values())
        )
        return (
            accounted == self.total and not self.unclassified and not self.counted_twice
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "received_in_period": self.received_in_period,
            "carried_over": self.carried_over,
            "excluded": dict(self.excluded),
            "balanced": self.balanced,
        }


@dataclass
class RecapStatistics:
    """Figures printed in a recap; complaint lists hold ComplaintRecord-like objects."""

    period: Period
    total_received: int
    by_status: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    by_channel: list[tuple[str, int]]
    by_unit: list[tuple[str, int]]
    per_day: list[tuple[dt.date, int]]
    finished_count: int
    finished_share: float  # 0.0 when nothing was received
    median_days_to_finish: float | None
    p90_days_to_finish: float | None
    open_threshold_days: int
    received: list[Any] = field(default_factory=list)
    overdue_open: list[Any] = field(default_factory=list)
    carried_over: list[Any] = field(default_factory=list)
    as_of: dt.datetime | None = None
    excluded: list[tuple[Any, str]] = field(default_factory=list)
    reconciliation: Reconciliation | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as JSON-compatible values, with lists in table order."""
        return {
            "period": str(self.period),
            "period_label": self.period.label(),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "total_received": self.total_received,
            "by_status": _rows_to_dict(self.by_status),
            "by_category": _rows_to_dict(self.by_category),
            "by_channel": _rows_to_dict(self.by_channel),
            "by_unit": _rows_to_dict(self.by_unit),
            "per_day": [
                {"date": day.isoformat(), "count": count} for day, count in self.per_day
            ],
            "finished_count": self.finished_count,
            "finished_share": self.finished_share,
            "median_days_to_finish": self.median_days_to_finish,
            "p90_days_to_finish": self.p90_days_to_finish,
            "open_threshold_days": self.open_threshold_days,
            "overdue_open_count": len(self.overdue_open),
            "overdue_open_ids": [c.tracking_id for c in self.overdue_open],
            "carried_over_count": len(self.carried_over),
            "carried_over_ids": [c.tracking_id for c in self.carried_over],
            "excluded": dict(Counter(reason for _, reason in self.excluded)),
            "reconciliation": self.reconciliation.to_dict()
            if self.reconciliation
            else None,
        }


def _rows_to_dict(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"label": label, "count": count} for label, count in rows]


def _status_key(status: str) -> str:
    # Case and runs of whitespace, non-breaking spaces included, do not count.
    return " ".join(status.split()).casefold()


def is_finished_status(status: str | None) -> bool:
    """Tell whether a LAPOR! status ends a complaint (case and spaces ignored)."""
    return status is not None and _status_key(status) in _FINISHED_KEYS


def is_known_status(status: str) -> bool:
    """Tell whether a status is one LAPOR! uses (case and spaces ignored)."""
    return _status_key(status) in _LAPOR_STATUS_KEYS


def is_finished(complaint: Any, as_of: dt.datetime | None = None) -> bool:
    """Tell whether a complaint is finished, or was finished before ``as_of``."""
    finished_at = complaint.finished_at
    if finished_at is None or not is_finished_status(complaint.status):
        return False
    return as_of is None or finished_at < as_of


def days_between(start: dt.datetime, end: dt.datetime) -> float:
    """Return the time from start to end in fractional days."""
    return (end - start).total_seconds() / 86_400


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Return a percentile by linear interpolation, or None for no values.

    Matches ``statistics.quantiles(method="inclusive")`` and NumPy's default:
    the value at position ``fraction * (n - 1)`` of the sorted values.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def count_by(
    complaints: Iterable[Any],
    attribute: str,
    label: Callable[[object], str] | None = None,
) -> list[tuple[str, int]]:
    """Count complaints per attribute value, most frequent first, then by label."""
    label = label or _label
    counts = Counter(label(getattr(c, attribute)) for c in complaints)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def status_label(value: object) -> str:
    """Return a status as LAPOR! spells it, so that "SELESAI" counts as "Selesai"."""
    text = _label(value)
    return _CANONICAL_STATUSES.get(_status_key(text), text)


def _label(value: object) -> str:
    text = "" if value is None else str(value).strip()
    return text or UNFILLED_LABEL


def exclusion_reason(complaint: Any, period: Period) -> str | None:
    """Return why a complaint is outside the recap of a period, or None."""
    received_at = complaint.received_at
    if received_at is None:
        return "missing_received_date"
    if received_at >= period.end:
        return "received_after_period"
    if received_at < period.start and is_finished(complaint, as_of=period.start):
        return "finished_before_period"
    return None


def is_carried_over(complaint: Any, period: Period) -> bool:
    """Tell whether an earlier complaint was still open when the period began.

    Those are finished within the period, finished after it or never.
    """
    received_at = complaint.received_at
    return (
        received_at is not None
        and received_at < period.start
        and not is_finished(complaint, as_of=period.start)
    )


def reconcile(complaints: Iterable[Any], period: Period) -> Reconciliation:
    """Check that every complaint falls in exactly one list of the recap."""
    total = received = carried = 0
    excluded: Counter[str] = Counter()
    unclassified: list[str] = []
    counted_twice: list[str] = []
    for complaint in complaints:
        total += 1
        in_period = period.contains(complaint.received_at)
        earlier = is_carried_over(complaint, period)
        reason = exclusion_reason(complaint, period)
        received += in_period
        carried += earlier
        if reason:
            excluded[reason] += 1
        matches = int(in_period) + int(earlier) + int(reason is not None)
        if matches == 0:
            unclassified.append(str(complaint.tracking_id))
        elif matches > 1:
            counted_twice.append(str(complaint.tracking_id))
    return Reconciliation(
        total=total,
        received_in_period=received,
        carried_over=carried,
        excluded=dict(excluded),
        unclassified=unclassified,
        counted_twice=counted_twice,
    )


def compute_statistics(
    complaints: Iterable[Any],
    period: Period,
    *,
    open_threshold_days: int = 14,
    as_of: dt.datetime | None = None,
) -> RecapStatistics:
    """Compute the figures of a period's recap from complaint records."""
    items = list(complaints)
    as_of = as_of or period.end
    order = _received_order

    received = sorted((c for c in items if period.contains(c.received_at)), key=order)
    finished = [c for c in received if is_finished(c, as_of)]
    durations = _durations(finished)
    threshold = dt.timedelta(days=open_threshold_days)
    overdue = [
        c
        for c in received
        if not is_finished(c, as_of) and as_of - c.received_at > threshold
    ]
    carried = sorted((c for c in items if is_carried_over(c, period)), key=order)
    excluded = [
        (c, reason)
        for c in items
        if (reason := exclusion_reason(c, period)) is not None
    ]

    per_day_counts = Counter(c.received_at.date() for c in received)
    days = [period.start.date() + dt.timedelta(days=n) for n in range(period.days)]
    reconciliation = reconcile(items, period)
    if not reconciliation.balanced:
        logger.error(
            "Statistics of %s do not reconcile: %s, unclassified %s, counted twice %s",
            period,
            reconciliation.to_dict(),
            reconciliation.unclassified[:10],
            reconciliation.counted_twice[:10],
        )
    return RecapStatistics(
        period=period,
        total_received=len(received),
        by_status=count_by(received, "status", status_label),
        by_category=count_by(received, "category"),
        by_channel=count_by(received, "channel"),
        by_unit=count_by(received, "unit"),
        per_day=[(day, per_day_counts.get(day, 0)) for day in days],
        finished_count=len(finished),
        finished_share=len(finished) / len(received) if received else 0.0,
        median_days_to_finish=percentile(durations, 0.5),
        p90_days_to_finish=percentile(durations, 0.9),
        open_threshold_days=open_threshold_days,
        received=received,
        overdue_open=overdue,
        carried_over=carried,
        as_of=as_of,
        excluded=excluded,
        reconciliation=reconciliation,
    )


def _received_order(complaint: Any) -> tuple[dt.datetime, str]:
    return complaint.received_at, str(complaint.tracking_id)


def _durations(finished: Iterable[Any]) -> list[float]:
    """Return days to finish, leaving out and logging finish dates before receipt."""
    durations = []
    for complaint in finished:
        days = days_between(complaint.received_at, complaint.finished_at)
        if days < 0:
            logger.warning(
                "Complaint %s finished before it was received; left out of durations",
                complaint.tracking_id,
            )
            continue
        durations.append(days)
    return durations
