"""Hash-chained audit events: a changed, inserted or deleted event breaks the chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent, Recap, User, utcnow

GENESIS_HASH = "0" * 64


def event_fields(event: AuditEvent) -> dict[str, object]:
    """Return the fields an event's hash covers, with times as ISO text."""
    return {
        "recap_id": event.recap_id,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "role": event.role,
        "action": event.action,
        "reason": event.reason,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "sha256_before": event.sha256_before,
        "sha256_after": event.sha256_after,
        "step_started_dt": _iso(event.step_started_dt),
        "created_dt": _iso(event.created_dt),
        "previous_hash": event.previous_hash,
    }


def event_digest(event: AuditEvent) -> str:
    """Hash an event's content together with the hash of the event before it."""
    encoded = json.dumps(event_fields(event), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() if moment else None


def append_event(
    session: Session,
    recap: Recap,
    actor: User | None,
    *,
    role: str,
    action: str,
    from_status: str,
    to_status: str,
    sha256_before: str | None,
    sha256_after: str | None,
    reason: str = "",
) -> AuditEvent:
    """Add the next event of a recap's chain to the session (caller commits)."""
    previous = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.recap_id == recap.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    event = AuditEvent(
        recap_id=recap.id,
        actor_id=actor.id if actor else None,
        actor_name=actor.name if actor else "Sistem",
        role=role,
        action=action,
        reason=reason,
        from_status=from_status,
        to_status=to_status,
        sha256_before=sha256_before,
        sha256_after=sha256_after,
        step_started_dt=recap.step_started_dt.replace(microsecond=0),
        created_dt=utcnow().replace(microsecond=0),
        previous_hash=previous.event_hash if previous else GENESIS_HASH,
    )
    event.event_hash = event_digest(event)
    recap.audit_head = event.event_hash
    session.add(event)
    return event


def check_chain(session: Session, recap: Recap) -> list[str]:
    """Return a description of every break in a recap's chain (empty if intact)."""
    problems = []
    expected_previous = GENESIS_HASH
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.recap_id == recap.id)
        .order_by(AuditEvent.id)
    )
    for event in events:
        if event.previous_hash != expected_previous:
            problems.append(
                f"event {event.id}: previous hash does not match the event before it "
                "(an event was deleted or inserted)"
            )
        if event_digest(event) != event.event_hash:
            problems.append(f"event {event.id}: content does not match its hash")
        expected_previous = event.event_hash
    if (recap.audit_head or GENESIS_HASH) != expected_previous:
        problems.append("the newest event is missing: the chain ends before its head")
    return problems
