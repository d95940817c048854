"""After a load or fault run: does every case's state, tasks, timers and history agree with
each other, with the engine, and with what the clients did? Read straight from the database."""
from __future__ import annotations

import copy
from collections import Counter, defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, ProcessInstance, Task, Timer
from app.services.projection import stored_spec

from load_clients import Case

BEFORE_ANY_TIMER = datetime(1970, 1, 1, tzinfo=timezone.utc)


def engine_view(app, instance: ProcessInstance) -> tuple[set[str], set[tuple[str, datetime]]]:
    """The engine's own reading of the stored state: its ready user tasks and waiting timers."""
    engine = app.extensions["pathways.engine"]
    # Firing as of 1970 fires nothing: what comes back is the state as it stands.
    snapshot = engine.fire_timers(instance.definition_id, stored_spec(instance.definition_id),
                                  copy.deepcopy(instance.state), BEFORE_ANY_TIMER)
    timers = {(t["id"], datetime.fromisoformat(t["dueAt"]).astimezone(timezone.utc)) for t in snapshot.timers}
    return {t["id"] for t in snapshot.user_tasks}, timers


def check(app, cases: list[Case]) -> list[str]:
    """Every disagreement found, as a sentence naming the case; empty when all agree."""
    problems: list[str] = []
    with app.app_context():
        keys = [c.business_key for c in cases]
        instances = defaultdict(list)
        handed_over = Counter()
        for row in db.session.execute(sa.select(ProcessInstance).where(ProcessInstance.business_key.in_(keys))).scalars():
            # A case transferred to the CIN team goes on there, under the same business key.
            if row.definition_key == "cin_team":
                handed_over[row.business_key] += 1
            else:
                instances[row.business_key].append(row)
        ids = [rows[0].id for rows in instances.values()]
        tasks, timers, events = defaultdict(list), defaultdict(list), defaultdict(list)
        for row in db.session.execute(sa.select(Task).where(Task.instance_id.in_(ids))).scalars():
            tasks[row.instance_id].append(row)
        for row in db.session.execute(sa.select(Timer).where(Timer.instance_id.in_(ids))).scalars():
            timers[row.instance_id].append(row)
        for row in db.session.execute(
                sa.select(AuditEvent).where(AuditEvent.instance_id.in_(ids)).order_by(AuditEvent.id)).scalars():
            events[row.instance_id].append(row)
        for case in cases:
            rows = instances.get(case.business_key, [])
            if len(rows) != 1:
                problems.append(f"{case.business_key}: {len(rows)} instances")
                continue
            if handed_over[case.business_key] != (case.outcome == "transfer_cin_team"):
                problems.append(f"{case.business_key}: {handed_over[case.business_key]} cases handed over to the CIN team")
            instance = rows[0]
            found = _check_case(app, case, instance, tasks[instance.id], timers[instance.id], events[instance.id])
            problems.extend(f"{case.business_key}: {p}" for p in found)
        db.session.remove()
    return problems


def _check_case(app, case, instance, tasks, timers, events) -> list[str]:
    problems = []
    if instance.id != case.instance_id:
        problems.append(f"the client worked {case.instance_id}, the database has {instance.id}")
    # State: where the client left it.
    if case.outcome is None:
        if instance.status != "active":
            problems.append(f"left open but {instance.status}")
    elif (instance.status, instance.variables.get("outcome")) != ("completed", case.outcome):
        problems.append(f"expected completed/{case.outcome}, found {instance.status}/{instance.variables.get('outcome')}")
    ended = [e for e in events if e.type == "instance_completed"]
    if len(ended) != (0 if case.outcome is None else 1):
        problems.append(f"{len(ended)} instance_completed events")

    # Tasks: each step the client completed is one completed row, by that user, in that order.
    completed = sorted((t for t in tasks if t.status == "completed"), key=lambda t: (t.completed_at, t.id))
    if [(t.id, t.activity_id, t.completed_by) for t in completed] != case.done:
        problems.append(f"completed tasks {[(t.activity_id, t.completed_by) for t in completed]} "
                        f"!= the client's {[(a, u) for _, a, u in case.done]}")
    active = [t for t in tasks if t.status == "active"]
    doubled = [a for a, n in Counter(t.activity_id for t in active).items() if n > 1]
    if doubled:
        problems.append(f"active more than once: {doubled}")
    ready, waiting = engine_view(app, instance)
    if {t.id for t in active} != ready:
        problems.append(f"active task rows {sorted(t.activity_id for t in active)} != the engine's ready tasks")

    # History: each completion once and in order; each task created once and ended at most once.
    history = [(e.task_id, e.activity_id, e.user) for e in events if e.type == "task_completed"]
    if history != case.done:
        problems.append(f"history completions {[(a, u) for _, a, u in history]} != the client's")
    created = Counter(e.task_id for e in events if e.type == "task_created")
    ends = Counter(e.task_id for e in events if e.type in ("task_completed", "task_cancelled"))
    for task in tasks:
        if created[task.id] != 1:
            problems.append(f"task {task.activity_id} created {created[task.id]} times in the history")
        if ends[task.id] != (0 if task.status == "active" else 1):
            problems.append(f"task {task.activity_id} ({task.status}) ended {ends[task.id]} times in the history")
    if set(created) != {t.id for t in tasks}:
        problems.append("the history creates tasks that have no row")

    # Timers: the pending rows are exactly what the engine waits on; each timer scheduled
    # once and ended (fired or cancelled) at most once, as its row says.
    pending = [t for t in timers if t.status == "pending"]
    if {(t.engine_task_id, t.due_at) for t in pending} != waiting or len(pending) != len(waiting):
        problems.append(f"pending timers {sorted(t.activity_id for t in pending)} != the engine's waiting timers")
    scheduled = Counter(e.details.get("timerId") for e in events if e.type == "timer_scheduled")
    for timer in timers:
        ended_events = [e for e in events if e.type in ("timer_fired", "timer_cancelled")
                        and e.details.get("timerId") == timer.id]
        if scheduled[timer.id] != 1:
            problems.append(f"timer {timer.activity_id} scheduled {scheduled[timer.id]} times")
        expected = [] if timer.status == "pending" else [f"timer_{timer.status}"]
        if [e.type for e in ended_events] != expected:
            problems.append(f"timer {timer.activity_id} is {timer.status}; history ends it {[e.type for e in ended_events]}")
    return problems
