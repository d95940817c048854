"""Firing timers: each firing is one transaction that locks its instance, so a timer can
fire at most once however many jobs, workers or sweeps reach it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from ..engine import DecisionFailed, Engine, EngineError
from ..errors import Conflict
from ..extensions import db
from ..models import InstanceStatus, ProcessInstance, Timer, TimerStatus, User
from ..timer_queue import TimerQueue
from .projection import apply_snapshot, audit, lock_instance, lock_instance_of, stored_spec
from .transaction import commit

log = logging.getLogger(__name__)

FIRED, NOT_DUE, NOT_PENDING, MISSING, HELD = "fired", "not_due", "not_pending", "missing", "held"


def fire(engine: Engine, timer_id: str, as_of: datetime) -> str:
    """Fire ``timer_id`` if it is still pending and due at ``as_of``; say what happened."""
    timer = lock_instance_of(Timer, timer_id)
    if timer is None:
        db.session.rollback()
        return MISSING
    instance = timer.instance
    # Read again under the instance's lock: a firing that got there first is visible now.
    db.session.refresh(timer)
    if timer.status != TimerStatus.PENDING.value:
        db.session.rollback()
        return NOT_PENDING
    if timer.due_at > as_of:
        db.session.rollback()
        return NOT_DUE
    if instance.status != InstanceStatus.ACTIVE.value:
        # An incident holds its timers until someone retries the instance.
        db.session.rollback()
        return HELD
    snapshot = engine.fire_timers(instance.definition_id, stored_spec(instance.definition_id), instance.state, as_of)
    apply_snapshot(instance, snapshot, None)
    if any(row.id == timer.id for row in instance.timer_list):
        # The engine did not fire it although it is due: the diagram and the row disagree.
        raise EngineError(f"timer {timer.activity_id} is due but the engine did not fire it")
    commit()
    return FIRED


def seconds_until_due(timer_id: str) -> float | None:
    timer = db.session.get(Timer, timer_id)
    if timer is None:
        return None
    return max(0.0, (timer.due_at - datetime.now(timezone.utc)).total_seconds())


def record_failure(timer_id: str, error: BaseException, max_attempts: int) -> bool:
    """Count a failed firing, in a transaction of its own; after the last attempt the
    instance becomes an incident. Return True when that happened."""
    db.session.rollback()
    timer = db.session.get(Timer, timer_id)
    if timer is None:
        return True
    timer.attempts += 1
    timer.last_error = f"{error.__class__.__name__}: {error}"[:4000]
    # A decision that cannot answer will not answer on a second try either.
    final = timer.attempts >= max_attempts or isinstance(error, DecisionFailed)
    if final:
        instance = lock_instance(timer.instance_id)
        if instance.status == InstanceStatus.ACTIVE.value:
            instance.status = InstanceStatus.INCIDENT.value
            instance.incident = f"timer {timer.activity_id} failed {timer.attempts} times: {timer.last_error}"
            audit(instance.id, "incident", activity_id=timer.activity_id, timerId=timer.id,
                  error=timer.last_error, attempts=timer.attempts)
    db.session.commit()
    return final


def run_due(engine: Engine, as_of: datetime, max_attempts: int = 5, limit: int = 10_000) -> dict[str, int]:
    """Fire every pending timer due at ``as_of`` (embedded mode, `timers run-due`)."""
    due = list(db.session.execute(
        sa.select(Timer.id).join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(Timer.status == TimerStatus.PENDING.value, Timer.due_at <= as_of,
               ProcessInstance.status == InstanceStatus.ACTIVE.value)
        .order_by(Timer.due_at).limit(limit)
    ).scalars())
    db.session.rollback()
    counts: dict[str, int] = {}
    for timer_id in due:
        # Each firing is its own transaction; what others changed since the last must show.
        db.session.expire_all()
        try:
            outcome = fire(engine, timer_id, as_of)
        except (EngineError, Conflict, sa.exc.SQLAlchemyError) as exc:
            log.warning("timer %s failed: %s", timer_id, exc)
            outcome = "incident" if record_failure(timer_id, exc, max_attempts) else "failed"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@dataclass
class SweepResult:
    pending: int
    requeued: int


def sweep(queue: TimerQueue, batch: int = 1000) -> SweepResult:
    """Put back on Redis every pending timer whose job is missing, dead or abandoned."""
    pending = requeued = 0
    last_id = ""
    while True:
        rows = db.session.execute(
            sa.select(Timer.id, Timer.due_at).join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
            .where(Timer.status == TimerStatus.PENDING.value, Timer.id > last_id,
                   ProcessInstance.status == InstanceStatus.ACTIVE.value)
            .order_by(Timer.id).limit(batch)
        ).all()
        db.session.rollback()
        if not rows:
            return SweepResult(pending, requeued)
        pending += len(rows)
        last_id = rows[-1][0]
        lost = queue.missing([(timer_id, due_at) for timer_id, due_at in rows])
        if lost:
            requeued += queue.reschedule(lost)


def retry(user: User, instance_id: str) -> tuple[ProcessInstance, list[tuple[str, datetime]]]:
    """Take an instance out of incident: its timers get fresh attempts and are delivered again."""
    instance = lock_instance(instance_id)
    if instance.status != InstanceStatus.INCIDENT.value:
        raise Conflict(f"process instance {instance_id} is {instance.status}, not in incident")
    instance.status = InstanceStatus.ACTIVE.value
    previous, instance.incident = instance.incident, None
    timers = list(db.session.execute(
        sa.select(Timer).where(Timer.instance_id == instance_id, Timer.status == TimerStatus.PENDING.value)
    ).scalars())
    for timer in timers:
        timer.attempts = 0
    audit(instance.id, "incident_retried", user.id, previousError=previous)
    commit()
    return instance, [(t.id, t.due_at) for t in timers]
