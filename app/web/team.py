"""The manager view of their team: open and overdue tasks per group, open assessments by
working day against their timescale, caseloads against the guidance, and quiet cases."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, render_template

from .. import access
from ..calendar import WorkingCalendar
from ..extensions import db
from ..models import AuditEvent, ProcessInstance, Task, TaskStatus, User
from . import bp
from .labels import group_label
from .rows import now, task_rows
from .views import signed_in

# Children per worker the guidance aims at: IFST about 25 per key worker.
CASELOAD_GUIDANCE = {"durham-ifst-kw": 25}
QUIET_WORKING_DAYS = 20
# Reading a case, or being refused it, is not activity on it.
NOT_ACTIVITY = ("case_viewed", "child_viewed", "access_denied")


def team_tasks(user: User, groups: set[str]) -> list[Task]:
    """Open tasks for any group the user's team works (``groups``: their groups and their
    team-mates'), held by their duty team or by none: the tasks whose cases app/access.py
    lets them see for that reason."""
    query = sa.select(Task).where(Task.status == TaskStatus.ACTIVE.value, access.team_task_condition(user, groups))
    return list(db.session.execute(query.order_by(Task.due_at, Task.created_at, Task.id)).scalars())


def assessment_day(calendar: WorkingCalendar, task: Task, at: datetime) -> int | None:
    """Which working day of its timescale an assessment is on. The due date is the
    timescale counted from the event the diagram counts it from (the visit, consent, the
    referral), so the day is the timescale less the working days still to go, or plus
    those already past it."""
    if task.assessment_days is None or task.due_at is None:
        return None
    if task.due_at >= at:
        return max(0, task.assessment_days - calendar.working_days_between(at, task.due_at))
    return task.assessment_days + calendar.working_days_between(task.due_at, at)


def _caseloads(tasks: list[Task], rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per worker, the children (or cases, where no child is recorded) with an open task
    assigned to them, against the guidance for their group."""
    children: dict[str, set[str]] = {}
    for task in tasks:
        if task.assignee:
            children.setdefault(task.assignee, set()).add(rows[task.id]["child_id"] or task.instance_id)
    if not children:
        return []
    workers = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(sorted(children)))).scalars()}
    loads = []
    for worker_id, held in children.items():
        worker = workers.get(worker_id)
        guides = [CASELOAD_GUIDANCE[grp] for grp in (worker.groups if worker else []) if grp in CASELOAD_GUIDANCE]
        guidance = min(guides) if guides else None
        loads.append({"worker": worker.display_name if worker else worker_id, "count": len(held),
                      "guidance": guidance, "over": guidance is not None and len(held) > guidance})
    return sorted(loads, key=lambda w: (-w["count"], w["worker"]))


def _quiet(calendar: WorkingCalendar, tasks: list[Task], at: datetime) -> list[dict[str, Any]]:
    """Open cases with no recorded activity for QUIET_WORKING_DAYS working days or more."""
    instance_ids = sorted({t.instance_id for t in tasks})
    if not instance_ids:
        return []
    last = db.session.execute(
        sa.select(AuditEvent.instance_id, sa.func.max(AuditEvent.at))
        .where(AuditEvent.instance_id.in_(instance_ids), AuditEvent.type.notin_(NOT_ACTIVITY))
        .group_by(AuditEvent.instance_id)).all()
    idle = {}
    for instance_id, last_at in last:
        days = calendar.working_days_between(last_at, at)
        if days >= QUIET_WORKING_DAYS:
            idle[instance_id] = (days, last_at)
    if not idle:
        return []
    # The quiet cases in one query, not one each: a team can have hundreds.
    instances = db.session.execute(sa.select(ProcessInstance).where(ProcessInstance.id.in_(sorted(idle)))).scalars()
    quiet = [{"instance": i, "idle": idle[i.id][0], "last": idle[i.id][1]} for i in instances]
    return sorted(quiet, key=lambda q: (-q["idle"], q["instance"].business_key or ""))


@bp.get("/team")
@signed_in
def team_view():
    if not g.user.has_role("manager"):
        return render_template("web/not_found.html"), 404
    calendar, at = current_app.extensions["pathways.calendar"], now()
    team_groups = access.team_groups(g.user)
    tasks = team_tasks(g.user, team_groups)
    rows = {r["task"].id: r for r in task_rows(tasks)}
    groups = []
    for group in sorted(team_groups, key=lambda c: (c not in g.user.groups, group_label(c), c)):
        in_group = [t for t in tasks if group in t.candidate_groups]
        groups.append({"group": group, "label": group_label(group), "open": len(in_group),
                       "overdue": sum(1 for t in in_group if rows[t.id]["overdue"])})
    assessments = [{**rows[t.id], "day": assessment_day(calendar, t, at)} for t in tasks if t.assessment_days]
    return render_template("web/team.html", groups=groups, assessments=assessments,
                           caseloads=_caseloads(tasks, rows), quiet=_quiet(calendar, tasks, at),
                           quiet_days=QUIET_WORKING_DAYS)
