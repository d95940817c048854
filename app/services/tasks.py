"""Working a human task: claim, release, assign, complete."""
from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from .. import access
from ..auth import deny
from ..engine import DecisionFailed, Engine, EngineError, TaskNotActive
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models import Task, TaskCandidateGroup, TaskStatus, User
from . import forms
from .incidents import decision_failed
from .projection import apply_snapshot, audit, lock_instance_of, require_active, stored_spec
from .transaction import commit, engine_error


def may_work(user: User, task: Task) -> bool:
    """The task is named for the user, or is in one of their groups and held by their team
    (a case held by a team goes to that team's members of each group)."""
    if not user.works_tasks:
        return False
    if user.has_role("admin") or task.assignee == user.id or user.id in (task.candidate_users or []):
        return True
    same_team = task.team is None or user.team is None or task.team == user.team
    return same_team and bool(set(task.candidate_groups) & set(user.groups))


def visible_tasks_query(user: User) -> sa.Select:
    """The same rule as may_work, as a query the inbox can index."""
    query = sa.select(Task)
    if not user.works_tasks:
        return query.where(sa.false())
    if not user.has_role("admin"):
        groups = sa.select(TaskCandidateGroup.task_id).where(TaskCandidateGroup.group.in_(user.groups or []))
        in_group = Task.id.in_(groups)
        if user.team is not None:
            in_group = sa.and_(in_group, sa.or_(Task.team.is_(None), Task.team == user.team))
        query = query.where(sa.or_(in_group, Task.assignee == user.id))
    return query


def get_visible(user: User, task_id: str) -> Task:
    """A task of the user's groups, or any task of a case they may see; else 404."""
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound(_missing(task_id))
    if not may_work(user, task) and not access.may_see_instance(user, task.instance_id):
        raise _hidden(user, task.instance_id, task.id)
    return task


def get_workable(user: User, task_id: str, action: str) -> Task:
    """A task the user may see and work; one they may only see answers 403."""
    task = db.session.get(Task, task_id)
    refusal = _refusal(user, task, task_id, action)
    if refusal is not None:
        raise refusal()
    return task


def _refusal(user: User, task: Task | None, task_id: str, action: str) -> Callable[[], Exception] | None:
    """Why ``user`` may not ``action`` ``task`` (missing, outside their teams, another
    group's), as a function making the error to raise (which records the refusal), or None."""
    if task is None:
        return lambda: NotFound(_missing(task_id))
    if may_work(user, task):
        return None
    # Taken now: a caller that rolls back before raising has the row expired.
    instance_id = task.instance_id
    if access.may_see_instance(user, instance_id):
        return lambda: _refused(user, instance_id, task_id, action)
    return lambda: _hidden(user, instance_id, task_id)


def _missing(task_id: str) -> str:
    return f"task {task_id} not found"


def _hidden(user: User, instance_id: str, task_id: str) -> NotFound:
    return access.hidden(user, "a task of a case outside the user's teams", _missing(task_id),
                         instance_id=instance_id, task_id=task_id)


def _refused(user: User, instance_id: str, task_id: str, action: str) -> Exception:
    return deny(user, f"{action} a task of another group", instance_id, task_id)


def _require_active(task: Task) -> None:
    if task.status != TaskStatus.ACTIVE.value:
        raise Conflict(f"task {task.id} is {task.status}, not active")


def claim(user: User, task_id: str) -> Task:
    task = get_workable(user, task_id, "claim")
    _require_active(task)
    if task.assignee and task.assignee != user.id:
        raise Conflict(f"task {task.id} is already claimed by {task.assignee}")
    _change_assignee(task, user.id, held_by=(None, user.id))
    audit(task.instance_id, "task_claimed", user.id, activity_id=task.activity_id, task_id=task.id)
    commit()
    return task


def unclaim(user: User, task_id: str) -> Task:
    task = get_workable(user, task_id, "release")
    _require_active(task)
    if task.assignee not in (None, user.id) and not user.has_role("manager"):
        raise deny(user, "release a task claimed by someone else", task.instance_id, task.id)
    previous = task.assignee
    _change_assignee(task, None, held_by=(previous,))
    audit(task.instance_id, "task_unclaimed", user.id, activity_id=task.activity_id, task_id=task.id,
          previousAssignee=previous)
    commit()
    return task


def _change_assignee(task: Task, assignee: str | None, held_by: tuple[str | None, ...] | None = None) -> None:
    """Give ``task`` to ``assignee`` if it is still active and, with ``held_by``, still held
    as read: one conditional UPDATE, so that of two people claiming at once one gets 409
    (the database checks the row as it is when it writes, not as each of them read it), and a
    task completed meanwhile is not claimed."""
    conditions = [Task.id == task.id, Task.status == TaskStatus.ACTIVE.value]
    if held_by is not None:
        conditions.append(sa.or_(*(Task.assignee.is_(None) if h is None else Task.assignee == h for h in held_by)))
    changed = db.session.execute(sa.update(Task).where(*conditions).values(assignee=assignee)
                                 .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.rollback()
        now = db.session.get(Task, task.id)
        if now is None or now.status != TaskStatus.ACTIVE.value:
            raise Conflict(f"task {task.id} is {now.status if now else 'gone'}, not active")
        raise Conflict(f"task {task.id} was claimed by {now.assignee or 'nobody'} at the same time; reload and try again")
    set_committed_value(task, "assignee", assignee)


def assign(user: User, task_id: str, assignee_id: Any) -> Task:
    task = get_workable(user, task_id, "assign")
    _require_active(task)
    if not user.has_role("manager"):
        raise deny(user, "assign tasks (managers only)", task.instance_id, task.id)
    if not isinstance(assignee_id, str) or not assignee_id:
        raise Invalid("userId is required", {"userId": ["is required"]})
    assignee = db.session.get(User, assignee_id)
    if assignee is None:
        raise Invalid(f"no user {assignee_id!r}", {"userId": ["no such user"]})
    if not may_work(assignee, Task(candidate_groups=task.candidate_groups, candidate_users=task.candidate_users,
                                   team=task.team)):
        raise Invalid(f"{assignee_id} is not in a group that works this task",
                      {"userId": [f"must belong to one of: {', '.join(task.candidate_groups)}"]})
    _change_assignee(task, assignee_id)
    audit(task.instance_id, "task_assigned", user.id, activity_id=task.activity_id, task_id=task.id,
          assignee=assignee_id)
    commit()
    return task


def complete(engine: Engine, user: User, task_id: str, variables: Any) -> Any:
    """Complete the task; returns its instance as written (see transaction.commit)."""
    # The task and its instance, locked, in one statement: every statement is a round trip.
    # The task row may be older than the lock (see lock_instance_of), but the engine state is
    # current: a task another request completed while we waited is not ready there.
    task = lock_instance_of(Task, task_id)
    refusal = _completion_refused(user, task, task_id)
    if refusal is not None:
        # Released first: on SQLite the refusal's own audit row would wait for this lock.
        db.session.rollback()
        raise refusal()
    instance = task.instance
    try:
        # A finished task is finished whatever the form says: 409 before any 422.
        _require_active(task)
        require_active(instance)
        known = instance.variables if forms.reads_case_variables(task.form) else {}
        values = forms.validate(task.form, variables, known, engine.evaluate)
    except EngineError as exc:
        raise engine_error(exc) from None
    except (Invalid, Conflict):
        db.session.rollback()
        raise
    try:
        snapshot = engine.complete_task(instance.definition_id, stored_spec(instance.definition_id), instance.state,
                                        task.id, values, user.id)
    except TaskNotActive as exc:
        db.session.rollback()
        raise Conflict(str(exc)) from None
    except DecisionFailed as exc:
        raise decision_failed(instance.id, exc, user.id) from None
    except EngineError as exc:
        raise engine_error(exc) from None
    audit(instance.id, "task_completed", user.id, activity_id=task.activity_id, task_id=task.id,
          name=task.name, variables=values)
    apply_snapshot(instance, snapshot, user.id, completed_task_id=task.id)
    return commit(answer=instance)


def _completion_refused(user: User, task: Task | None, task_id: str) -> Callable[[], Exception] | None:
    """get_workable's refusal, or a task assigned to someone else (a manager's to complete)."""
    refusal = _refusal(user, task, task_id, "complete")
    if refusal is None and task.assignee and task.assignee != user.id and not user.has_role("manager"):
        action, instance_id = f"complete a task assigned to {task.assignee}", task.instance_id
        return lambda: deny(user, action, instance_id, task_id)
    return refusal
