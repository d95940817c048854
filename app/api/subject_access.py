"""Subject access: everything held about one child, as a JSON file or a PDF, for an admin.
Every export, and every refused attempt, is recorded against the child."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from flask import Response, g

from ..auth import authenticated, require_role
from ..models import Task
from ..services import subject_access as service
from ..services.transaction import commit
from . import bp, schema_for, schemas
from .openapi import doc

_TASK_COLUMNS = [c.key for c in Task.__table__.columns]


def _export(child_id: str) -> tuple[dict, service.Held, datetime]:
    require_role(g.user, "admin", action="export everything held about a child (needs the admin role)",
                 child_id=child_id)
    held = service.collect(child_id)
    at = datetime.now(timezone.utc)
    export = schema_for(schemas.SubjectAccessExport).dump({
        "childId": child_id, "exportedAt": at, "exportedBy": g.user.id,
        "child": held.child, "episodes": held.episodes, "documents": held.documents,
        "family": {"id": held.family.id, "name": held.family.name, "siblings": held.siblings} if held.family else None,
        "processInstances": [_instance(i) for i in held.instances],
        "childHistory": held.child_history,
    })
    return export, held, at


def _recorded(held: service.Held, format_: str) -> None:
    # Recorded once the file is made, in the action's one transaction.
    service.record_export(held, g.user.id, format_)
    commit()


def _instance(held: service.InstanceHeld) -> dict:
    instance, submitted = held.instance, service.submitted_values(held.history)
    return {
        **{key: getattr(instance, key) for key in ("id", "definition_key", "business_key", "status", "incident",
                                                   "started_at", "started_by", "ended_at", "variables")},
        "version": instance.definition.version, "name": instance.definition.name,
        "tasks": [{**{key: getattr(task, key) for key in _TASK_COLUMNS}, "submitted": submitted.get(task.id)}
                  for task in held.tasks],
        "timers": held.timers, "history": held.history,
    }


def _filename(child_id: str, at: datetime, extension: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", child_id)
    return f"subject-access-{safe}-{at:%Y%m%d}.{extension}"


@bp.get("/children/<child_id>/export")
@authenticated
@doc("Everything held about a child, as one JSON file (admin)", response=(200, schemas.SubjectAccessExport),
     errors=(403, 404))
def export_child(child_id: str):
    """The register entry (child, family, episodes), every process instance naming the child
    (its variables, tasks with who completed them and the values submitted, timers and
    history), the child's own audit trail and the documents with their HTML. 404 when
    nothing is held about the child. The export is audited."""
    export, held, at = _export(child_id)
    content = json.dumps(export, ensure_ascii=False, indent=2)
    _recorded(held, "json")
    return Response(content, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(child_id, at, "json")}"'})


@bp.get("/children/<child_id>/export.pdf")
@authenticated
@doc("Everything held about a child, as a readable PDF (admin)",
     response=(200, {"type": "string", "format": "binary"}), errors=(403, 404), media_type="application/pdf")
def export_child_pdf(child_id: str):
    """The same content as the JSON export, laid out to read; documents are shown as
    written. The export is audited."""
    export, held, at = _export(child_id)
    content = service.to_pdf(export, at)
    _recorded(held, "pdf")
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(child_id, at, "pdf")}"'})
