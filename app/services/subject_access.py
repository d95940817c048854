"""A subject access export: everything Pathways holds about one child — the register entry
(child, family, episodes), every process instance that names the child with its variables,
tasks (who completed them, what they submitted), timers and history, the child's own audit
trail and the documents — gathered for an admin, and rendered as a readable PDF."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import lxml.html
import sqlalchemy as sa
from markupsafe import Markup

from ..calendar import to_london
from ..errors import NotFound
from ..extensions import db
from ..models import AuditEvent, Child, Document, Family, ProcessInstance, Task, TeamEpisode, Timer
from . import documents
from .projection import audit
from .register import episodes, sibling_ids

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "export"


@dataclass
class InstanceHeld:
    instance: ProcessInstance
    tasks: list[Task]
    timers: list[Timer]
    history: list[AuditEvent]


@dataclass
class Held:
    child_id: str
    child: Child | None
    family: Family | None
    siblings: list[str]
    episodes: list[TeamEpisode]
    instances: list[InstanceHeld] = field(default_factory=list)
    child_history: list[AuditEvent] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)


def _instance_ids(child_id: str) -> set[str]:
    """Instances whose variables name the child, that opened or closed one of its episodes,
    or that produced a document about it."""
    named = sa.select(ProcessInstance.id).where(ProcessInstance.child_id == child_id)
    episodes = sa.select(TeamEpisode.instance_id).where(TeamEpisode.child_id == child_id,
                                                        TeamEpisode.instance_id.is_not(None))
    produced = sa.select(Document.instance_id).where(Document.child_id == child_id, Document.instance_id.is_not(None))
    ids = set(db.session.execute(sa.union(named, episodes, produced)).scalars())
    # Only instances still there (an episode may name an instance id an integrator made up).
    return set(db.session.execute(sa.select(ProcessInstance.id).where(ProcessInstance.id.in_(ids))).scalars())


def collect(child_id: str) -> Held:
    """Everything held about ``child_id``. Raises NotFound when nothing is: the child is not
    in the register and no instance or document names them."""
    child = db.session.get(Child, child_id)
    instance_ids = _instance_ids(child_id)
    docs = list(db.session.execute(
        sa.select(Document).where(sa.or_(Document.child_id == child_id, Document.instance_id.in_(instance_ids)))
        .order_by(Document.created_at, Document.id)).scalars())
    if child is None and not instance_ids and not docs:
        raise NotFound(f"nothing is held about child {child_id}")
    family = db.session.get(Family, child.family_id) if child is not None and child.family_id else None
    held = Held(child_id=child_id, child=child, family=family, documents=docs,
                siblings=sibling_ids(child_id, family.id) if family else [], episodes=episodes(child_id))
    instances = db.session.execute(sa.select(ProcessInstance).where(ProcessInstance.id.in_(instance_ids))
                                   .order_by(ProcessInstance.started_at, ProcessInstance.id)).scalars()
    for instance in instances:
        held.instances.append(InstanceHeld(
            instance=instance,
            tasks=list(db.session.execute(sa.select(Task).where(Task.instance_id == instance.id)
                                          .order_by(Task.created_at, Task.id)).scalars()),
            timers=list(db.session.execute(sa.select(Timer).where(Timer.instance_id == instance.id)
                                           .order_by(Timer.due_at, Timer.id)).scalars()),
            history=list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.instance_id == instance.id)
                                            .order_by(AuditEvent.id)).scalars()),
        ))
    held.child_history = list(db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.child_id == child_id).order_by(AuditEvent.id)).scalars())
    return held


def submitted_values(history: list[AuditEvent]) -> dict[str, dict[str, Any]]:
    """What was submitted with each completed task, by task id, as the audit keeps it."""
    return {e.task_id: e.details.get("variables", {}) for e in history if e.type == "task_completed" and e.task_id}


def record_export(held: Held, user: str, format_: str) -> None:
    """Audit the export against the child: who exported it, when, in which form."""
    audit(None, "subject_access_export", user, child_id=held.child_id, format=format_,
          instances=[i.instance.id for i in held.instances], documents=len(held.documents))


# -- the PDF --------------------------------------------------------------------------------

def _when(value: Any) -> str:
    if not value:
        return ""
    return to_london(value).strftime("%-d %B %Y %H:%M")


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _letter_body(html: str) -> Markup:
    """A stored document's body, for the PDF. Its HTML is Pathways' own, rendered from an
    escaping template; its head and styles are left out so they do not restyle the export."""
    root = lxml.html.document_fromstring(html)
    for element in root.xpath("//style|//script|//link|//meta|//title"):
        element.drop_tree()
    body = root.find("body")
    parts = [lxml.html.tostring(child, encoding="unicode") for child in (body if body is not None else [])]
    return Markup("".join(parts))


_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                          undefined=jinja2.StrictUndefined)
_ENV.filters.update(when=_when, show=_show, letter_body=_letter_body)


def to_html(export: dict[str, Any], at: datetime) -> str:
    """The export (as the API serialises it) laid out to read; everything in it escaped."""
    return _ENV.get_template("subject_access.html").render(e=export, issued=_when(at))


def to_pdf(export: dict[str, Any], at: datetime) -> bytes:
    return documents.to_pdf(to_html(export, at))
