"""Open tasks as the inbox shows them: the child (and their name from the case register),
the team holding the case, due date in words, who has claimed it by name."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Child, ProcessDefinition, ProcessInstance, Task, User
from ..services import register
from .due import due_words


def now() -> datetime:
    """The engine's clock: due dates read the same as the engine counted them."""
    return current_app.extensions["pathways.engine"].clock()


def display_names(user_ids: Iterable[str | None]) -> dict[str, str]:
    ids = sorted({u for u in user_ids if u})
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all())


def _children(instance_ids: set[str]) -> dict[str, tuple[str | None, str | None]]:
    """Instance id → (child id, child's name in the register)."""
    if not instance_ids:
        return {}
    found = db.session.execute(
        sa.select(ProcessInstance.id, ProcessInstance.child_id, Child.name)
        .outerjoin(Child, Child.id == ProcessInstance.child_id)
        .where(ProcessInstance.id.in_(sorted(instance_ids)))).all()
    return {instance_id: (child_id, name) for instance_id, child_id, name in found}


def task_rows(tasks: list[Task]) -> list[dict[str, Any]]:
    """One row per task, in the order given. ``teams`` hold the case: the duty team the
    task went to, else the teams holding the child in the register."""
    calendar, at = current_app.extensions["pathways.calendar"], now()
    names = dict(db.session.execute(sa.select(ProcessDefinition.key, ProcessDefinition.name)).all())
    children = _children({t.instance_id for t in tasks})
    held = register.teams_holding({c for c, _ in children.values() if c}, at)
    people = display_names(t.assignee for t in tasks)
    rows = []
    for task in tasks:
        words, colour = due_words(calendar, task.due_at, at)
        child_id, child_name = children.get(task.instance_id, (None, None))
        rows.append({"task": task, "due_words": words, "due_colour": colour,
                     "pathway": names.get(task.definition_key, task.definition_key),
                     "overdue": task.due_at is not None and task.due_at < at,
                     "child_id": child_id, "child_name": child_name,
                     "teams": [task.team] if task.team else held.get(child_id or "", []),
                     "assignee_name": people.get(task.assignee or "", task.assignee)})
    return rows
