"""Writing what the engine reports back to the database: instance state, the task and
timer projections the inbox and the timer workers query, and the audit trail."""
from __future__ import annotations

import functools
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, contains_eager, undefer
from sqlalchemy.orm.attributes import set_committed_value

from ..calendar import to_london
from ..engine import Snapshot
from ..errors import Conflict, NotFound
from ..extensions import db
from ..models import (
    AuditEvent,
    InstanceStatus,
    ProcessDefinition,
    ProcessInstance,
    Task,
    TaskCandidateGroup,
    TaskStatus,
    Timer,
    TimerStatus,
    new_id,
)
from .queued_writes import queue


# Timers created in this transaction, to hand to the scheduler once it commits.
NEW_TIMERS = "pathways.new_timers"


@sa.event.listens_for(Session, "after_rollback")
def _forget_new_timers(session: Session) -> None:
    session.info.pop(NEW_TIMERS, None)


def now() -> datetime:
    return datetime.now(timezone.utc)


def _dt(value: str | None) -> datetime | None:
    return to_london(value).astimezone(timezone.utc) if value else None


# The projection's writes, sent with the flush as one batch each (see queued_writes).
_b = sa.bindparam
_tasks, _timers = Task.__table__, Timer.__table__
_INSERT_AUDIT = sa.insert(AuditEvent.__table__).inline()
_INSERT_TASK = sa.insert(_tasks).inline()
_INSERT_TASK_GROUP = sa.insert(TaskCandidateGroup.__table__).inline()
# An UPDATE sets the columns its queued row names besides ``row_id``.
_UPDATE_TASK = sa.update(_tasks).where(_tasks.c.id == _b("row_id"))
_INSERT_TIMER = sa.insert(_timers).inline()
_UPDATE_TIMER = sa.update(_timers).where(_timers.c.id == _b("row_id"))
_UPDATE_INSTANCE = sa.update(ProcessInstance.__table__).where(ProcessInstance.__table__.c.id == _b("row_id"))


def audit(instance_id: str | None, type_: str, user: str | None = None, *, activity_id: str | None = None,
          task_id: str | None = None, at: datetime | None = None, child_id: str | None = None,
          **details: Any) -> None:
    """Add an event to the audit trail, written with this transaction's flush."""
    queue(_INSERT_AUDIT, {
        "instance_id": instance_id,
        "child_id": child_id,
        "at": at or now(),
        "type": type_,
        "activity_id": activity_id,
        "task_id": task_id,
        "user": user,
        "details": details,
    })


def lock_instance(instance_id: str) -> ProcessInstance:
    """Load the instance for change, holding its row lock until commit.

    PostgreSQL: `SELECT … FOR UPDATE`, so a second writer waits for the first. SQLite has
    no row locks; a no-op UPDATE takes the database write lock before we read, which is
    the same guarantee for an embedded, single-node install.
    """
    instance = _for_change(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"process instance {instance_id} not found")
    return instance


def lock_instance_of(model: type[Task] | type[Timer], row_id: str) -> Task | Timer | None:
    """A task or timer row with its instance (``row.instance``) loaded for change as
    lock_instance does, in one statement; None if there is no such row.

    Only the instance's row is locked: a writer locking the task or timer too could hold it
    while waiting for the instance, against the writer it waits for, which changes that
    row. So the row itself may be stale if the lock had to be waited for.
    """
    return _for_change(model, row_id)


def _for_change(model: type[ProcessInstance] | type[Task] | type[Timer], row_id: str) -> Any:
    """The ``model`` row ``row_id`` (with its instance, unless it is one), holding the
    instance's lock until commit."""
    lock, select = _locking_statements(model, db.session.get_bind().dialect.name)
    if lock is not None:
        db.session.execute(lock, {"row_id": row_id})
    row = db.session.execute(select, {"row_id": row_id}).scalar_one_or_none()
    if row is not None:
        db.session.info.setdefault(_LOCKED, set()).add(row.id if model is ProcessInstance else row.instance_id)
    return row


# The instances this transaction holds the lock of (see _write_instance).
_LOCKED = "pathways.locked_instances"
# The instances whose change is queued (see _write_instance).
_QUEUED_INSTANCES = "pathways.queued_instances"


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_locks(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_LOCKED, None)
        session.info.pop(_QUEUED_INSTANCES, None)


@sa.event.listens_for(Session, "before_flush")
def _refuse_later_changes(session: Session, flush_context: Any, instances: Any) -> None:
    """An instance whose change is queued and then changed again through the ORM would be
    written twice, the second time checked against a version not yet written: refused, as
    the programming error it is (change it before apply_snapshot)."""
    queued = session.info.get(_QUEUED_INSTANCES)
    if queued:
        for obj in session.dirty:
            if isinstance(obj, ProcessInstance) and obj.id in queued and session.is_modified(obj):
                raise RuntimeError(f"process instance {obj.id} was changed after its snapshot was applied")


@functools.cache
def _locking_statements(model: type, dialect: str) -> tuple[sa.Update | None, sa.Select]:
    """The statements _for_change sends for ``model``, built once: SQLAlchemy works out a
    statement's cache key anew for every new statement object, which cost 0.3–0.4 ms a
    lock here, and keeps it on one that is reused."""
    row_id = sa.bindparam("row_id", type_=sa.String)
    if model is ProcessInstance:
        select = sa.select(ProcessInstance).options(undefer(ProcessInstance.state)).where(ProcessInstance.id == row_id)
        instance_id: Any = row_id
    else:
        select = (sa.select(model).join(model.instance)
                  .options(contains_eager(model.instance).undefer(ProcessInstance.state)).where(model.id == row_id))
        instance_id = sa.select(model.instance_id).where(model.id == row_id).scalar_subquery()
    lock = None
    if dialect == "sqlite":
        lock = (sa.update(ProcessInstance).where(ProcessInstance.id == instance_id)
                .values(lock_version=ProcessInstance.lock_version).execution_options(synchronize_session=False))
    else:
        # Only the instance's row: its definition (joined in) is shared by every instance.
        select = select.with_for_update(of=ProcessInstance)
    return lock, select.execution_options(populate_existing=True)


def stored_spec(definition_id: int) -> Callable[[], dict[str, Any]]:
    """Load a version's stored spec only if the engine has not got it cached."""
    return lambda: db.session.get(ProcessDefinition, definition_id).spec


def require_active(instance: ProcessInstance) -> None:
    if instance.status != InstanceStatus.ACTIVE.value:
        raise Conflict(f"process instance {instance.id} is {instance.status}")


def apply_snapshot(
    instance: ProcessInstance,
    snapshot: Snapshot,
    user: str | None,
    *,
    completed_task_id: str | None = None,
    ended_status: InstanceStatus | None = None,
    started: bool = False,
) -> None:
    """``started``: the instance was started by this action, so it has no task or timer rows
    to read yet."""
    with db.session.no_autoflush:
        # One flush at the end: the rows below go to the database as a batch per statement.
        _apply(instance, snapshot, user, completed_task_id, ended_status, started)


def _apply(instance, snapshot, user, completed_task_id, ended_status, started) -> None:
    at = now()
    child_id = snapshot.variables.get("childId")
    changes = {"state": snapshot.state, "variables": snapshot.variables,
               "child_id": str(child_id)[:80] if child_id not in (None, "") else None}
    for step in snapshot.trail:
        if step["type"] != "UserTask":  # a completed user task is audited as task_completed
            audit(instance.id, "decision_evaluated" if "decision" in step else "activity_completed",
                  activity_id=step["activityId"], at=at, name=step["name"], kind=step["type"],
                  **({"outputs": step["decision"]} if "decision" in step else {}))
        if step.get("register"):
            from . import register

            register.apply_actions(instance.id, snapshot.variables, step, user, at)
        for kind in step.get("documents", []):
            from . import documents

            produced_at = datetime.fromisoformat(step["at"]) if step.get("at") else at
            documents.produce(kind, instance.id, snapshot.variables, step["activityId"], user, produced_at)
    # Kept on the instance for this request's response, so it need not query them again.
    task_rows, timer_rows = ([], []) if started else _open_rows(instance.id)
    instance.active_tasks = sorted(_sync_tasks(instance, snapshot, user, completed_task_id, at, task_rows),
                                   key=lambda t: (t.created_at, t.id))
    instance.timer_list = sorted(_sync_timers(instance, snapshot, at, timer_rows), key=lambda t: (t.due_at, t.id))
    if ended_status is not None or snapshot.completed:
        changes["status"] = (ended_status or InstanceStatus.COMPLETED).value
        changes["ended_at"] = at
        if changes["status"] == InstanceStatus.COMPLETED.value:
            audit(instance.id, "instance_completed", user, at=at, outcome=snapshot.outcome)
    _write_instance(instance, changes, started)
    for step in snapshot.trail:
        if step.get("handOverTo"):
            from .handover import hand_over

            hand_over(instance, step, snapshot.variables, user)


def _write_instance(instance: ProcessInstance, changes: dict[str, Any], started: bool) -> None:
    """Write the instance's new state and variables (and its end).

    A new instance, or one the action has changed through the ORM already, is written by the
    ORM, whose UPDATE checks the version it read. Otherwise the change is queued with the
    projection's rows (one round trip on PostgreSQL), without that check: this transaction
    holds the instance's lock (FOR UPDATE on PostgreSQL, the write lock on SQLite) from the
    read to the commit, so nobody else can have changed it; a change without the lock is
    refused. The version still goes up, so a writer that read the instance without the lock
    fails as before; the session's copy is set to what is written, as a flush would.
    """
    session = db.session()
    if started or sa.inspect(instance).modified:
        for key, value in changes.items():
            setattr(instance, key, value)
        return
    if instance.id not in session.info.get(_LOCKED, ()):
        raise RuntimeError(f"process instance {instance.id} changed without its lock")
    changes["lock_version"] = instance.lock_version + 1
    queue(_UPDATE_INSTANCE, {"row_id": instance.id, **changes})
    for key, value in changes.items():
        set_committed_value(instance, key, value)
    session.info.setdefault(_QUEUED_INSTANCES, set()).add(instance.id)


# Built once, like _locking_statements: a case's page and the API's answer read both.
_OPEN_TASKS = (sa.select(Task).where(Task.instance_id == sa.bindparam("instance_id", type_=sa.String),
                                     Task.status == TaskStatus.ACTIVE.value)
               .order_by(Task.created_at, Task.id))
_PENDING_TIMERS = (sa.select(Timer).where(Timer.instance_id == sa.bindparam("instance_id", type_=sa.String),
                                          Timer.status == TimerStatus.PENDING.value)
                   .order_by(Timer.due_at, Timer.id))


def open_tasks(instance_id: str) -> list[Task]:
    """The instance's active task rows, oldest first."""
    return list(db.session.execute(_OPEN_TASKS, {"instance_id": instance_id}).scalars())


def pending_timers(instance_id: str) -> list[Timer]:
    """The instance's pending timer rows, soonest due first."""
    return list(db.session.execute(_PENDING_TIMERS, {"instance_id": instance_id}).scalars())


# The same rows as plain values for the projection, which changes them by statement: both
# kinds in one statement (one round trip), each row naming its table; a column of the other
# table is NULL there. Both follow the lock, so neither can be older than it.
def _labelled(own: sa.Table, status: str) -> sa.Select:
    columns = [sa.literal(own.name).label("row_kind")]
    for table in (_tasks, _timers):
        columns += [(c if table is own else sa.type_coerce(sa.null(), c.type)).label(f"{table.name}_{c.name}")
                    for c in table.columns]
    return sa.select(*columns).where(own.c.instance_id == _b("instance_id", type_=sa.String), own.c.status == status)


_OPEN_ROWS = sa.union_all(_labelled(_tasks, TaskStatus.ACTIVE.value), _labelled(_timers, TimerStatus.PENDING.value))


def _open_rows(instance_id: str) -> tuple[list[SimpleNamespace], list[SimpleNamespace]]:
    """The instance's active task rows and pending timer rows."""
    found: dict[str, list[SimpleNamespace]] = {_tasks.name: [], _timers.name: []}
    for row in db.session.execute(_OPEN_ROWS, {"instance_id": instance_id}).mappings():
        table = _tasks if row["row_kind"] == _tasks.name else _timers
        found[table.name].append(SimpleNamespace(**{c.name: row[f"{table.name}_{c.name}"] for c in table.columns}))
    return found[_tasks.name], found[_timers.name]


def _sync_tasks(instance, snapshot, user, completed_task_id, at, rows) -> list[SimpleNamespace]:
    """Bring the task rows (``rows``: the active ones) in line with the engine's ready user
    tasks; return the active ones."""
    open_rows = {t.id: t for t in rows}
    ready = {t["id"]: t for t in snapshot.user_tasks}
    active = [row for task_id, row in open_rows.items() if task_id in ready]
    for row in active:
        # A due date moves when a variable it reads changes (an extension agreed).
        due = _dt(ready[row.id]["due"])
        if due != row.due_at:
            audit(instance.id, "task_due_changed", activity_id=row.activity_id, task_id=row.id, at=at,
                  previousDue=row.due_at.isoformat() if row.due_at else None,
                  due=due.isoformat() if due else None)
            row.due_at = due
            queue(_UPDATE_TASK, {"row_id": row.id, "due_at": due})
    for task_id, row in open_rows.items():
        if task_id in ready:
            continue
        completed = task_id == completed_task_id
        queue(_UPDATE_TASK, {"row_id": task_id, "completed_at": at, "completed_by": user if completed else None,
                          "status": (TaskStatus.COMPLETED if completed else TaskStatus.CANCELLED).value})
        if not completed:
            audit(instance.id, "task_cancelled", activity_id=row.activity_id, task_id=row.id, at=at)
    for task_id, data in ready.items():
        if task_id in open_rows:
            continue
        row = SimpleNamespace(
            id=task_id,
            instance_id=instance.id,
            definition_key=instance.definition_key,
            business_key=instance.business_key,
            activity_id=data["activityId"],
            name=data["name"],
            lane=data["lane"],
            candidate_groups=data["candidateGroups"],
            candidate_users=data["candidateUsers"],
            team=_held_by(instance, data["candidateGroups"]),
            assignee=data["assignee"],
            status=TaskStatus.ACTIVE.value,
            created_at=at,
            due_at=_dt(data["due"]),
            completed_at=None,
            completed_by=None,
            form=data["formFields"],
            documentation=data["documentation"],
            assessment_days=data.get("assessmentDays"),
        )
        queue(_INSERT_TASK, vars(row))
        for group in data["candidateGroups"]:
            queue(_INSERT_TASK_GROUP, {"task_id": task_id, "group": group})
        active.append(row)
        audit(instance.id, "task_created", activity_id=row.activity_id, task_id=task_id, at=at,
              name=row.name, candidateGroups=row.candidate_groups, assignee=row.assignee,
              due=row.due_at.isoformat() if row.due_at else None)
    return active


def _sync_timers(instance, snapshot, at, pending) -> list[SimpleNamespace]:
    """Match the engine's waiting timers to timer rows (``pending``) by (engine task, due
    time); return the pending ones.

    A pending row the engine no longer waits on has fired (its event ran, or a cycle moved
    on to its next due time) or was cancelled (its task completed, the instance ended).
    """
    waiting = {(t["id"], _dt(t["dueAt"])): t for t in snapshot.timers}
    still_waiting_tasks = {t["id"] for t in snapshot.timers}
    ran = {step["taskId"] for step in snapshot.trail}
    known = set()
    still_pending = []
    for row in pending:
        key = (row.engine_task_id, row.due_at)
        if key in waiting:
            known.add(key)
            still_pending.append(row)
            continue
        fired = row.engine_task_id in ran or row.engine_task_id in still_waiting_tasks
        status = (TimerStatus.FIRED if fired else TimerStatus.CANCELLED).value
        queue(_UPDATE_TIMER, {"row_id": row.id, "status": status, "ended_at": at, "fired_at": at if fired else None})
        details = {"latenessSeconds": round((at - row.due_at).total_seconds(), 3)} if fired else {}
        audit(instance.id, f"timer_{status}", activity_id=row.activity_id, at=at, timerId=row.id,
              dueAt=row.due_at.isoformat(), **details)
    # A timer already due when the engine reached it fired at once and never had a row:
    # the history still says the deadline was reached, and how late.
    had_rows = {row.engine_task_id for row in pending}
    for step in snapshot.trail:
        if "timerDue" in step and step["taskId"] not in had_rows:
            due = _dt(step["timerDue"])
            reached = datetime.fromisoformat(step["at"]) if step.get("at") else at
            audit(instance.id, "timer_fired", activity_id=step["activityId"], at=at, dueAt=due.isoformat(),
                  latenessSeconds=round((reached - due).total_seconds(), 3), onArrival=True)
    for key, data in waiting.items():
        if key in known:
            continue
        row = SimpleNamespace(
            id=new_id(),
            engine_task_id=data["id"],
            instance_id=instance.id,
            activity_id=data["activityId"],
            name=data["name"],
            kind=data["kind"],
            due_at=key[1],
            status=TimerStatus.PENDING.value,
            attempts=0,
            created_at=at,
            ended_at=None,
            fired_at=None,
            last_error=None,
        )
        queue(_INSERT_TIMER, vars(row))
        still_pending.append(row)
        db.session.info.setdefault(NEW_TIMERS, []).append((row.id, row.due_at))
        audit(instance.id, "timer_scheduled", activity_id=data["activityId"], at=at, timerId=row.id,
              dueAt=row.due_at.isoformat(), kind=data["kind"])
    return still_pending


def _held_by(instance: ProcessInstance, candidate_groups: list[str]) -> str | None:
    """The team holding this task: the case's duty team, for the groups its rota covers."""
    if instance.team is None:
        return None
    rota = current_app.extensions["pathways.duty_rotas"].get(instance.definition_key)
    return instance.team if rota is None or rota.covers(candidate_groups) else None
