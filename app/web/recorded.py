"""What the steps of a case recorded, in the words of their forms: a manager agreeing an
outcome sees the social worker's recommendation and summary, the IFD a returned referral's
reasons (the procedures have the next person decide on what the last one recorded)."""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from ..calendar import to_london
from ..extensions import db
from ..models import AuditEvent, Task
from ..services.forms import user_groups
from .rows import display_names


def recorded_steps(instance_id: str, limit: int) -> list[dict[str, Any]]:
    """The case's ``limit`` latest completed steps, latest first (see steps_recorded)."""
    query = (sa.select(AuditEvent).where(AuditEvent.instance_id == instance_id, AuditEvent.type == "task_completed")
             .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit))
    return steps_recorded(list(db.session.execute(query).scalars()))


def steps_recorded(events: list[AuditEvent]) -> list[dict[str, Any]]:
    """Completed steps (their `task_completed` events, in the order given), each with who did
    it, when, and its answers as label and text."""
    forms = {t.id: t.form or [] for t in db.session.execute(
        sa.select(Task).where(Task.id.in_([e.task_id for e in events if e.task_id]))).scalars()}
    people = display_names([e.user for e in events] + [
        value for e in events for f in forms.get(e.task_id, []) if user_groups(f)
        and isinstance(value := (e.details or {}).get("variables", {}).get(f["id"]), str)])
    steps = []
    for event in events:
        answers = (event.details or {}).get("variables") or {}
        rows = [(f["label"], _shown(f, answers[f["id"]], people)) for f in forms.get(event.task_id, [])
                if answers.get(f["id"]) not in (None, "")]
        steps.append({"name": (event.details or {}).get("name") or event.activity_id, "at": event.at,
                      "who": people.get(event.user) or event.user or "Pathways", "rows": rows})
    return steps


def _shown(field: dict[str, Any], value: Any, people: dict[str, str]) -> str:
    if field["type"] == "boolean":
        return "Yes" if value is True else "No" if value is False else str(value)
    if field["type"] == "enum":
        return next((o["name"] for o in field.get("options", []) if o["id"] == value), str(value))
    if field["type"] == "date" and isinstance(value, str):
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                return f"{day.day} {day:%B %Y}"
            local = to_london(value)
            return f"{local.day} {local:%B %Y %H:%M}"
        except ValueError:
            return value
    if user_groups(field) and isinstance(value, str):
        return people.get(value) or value
    if field["type"] == "children" and isinstance(value, list):
        return ", ".join(c.get("name") or c.get("childId", "") for c in value if isinstance(c, dict))
    return str(value)
