"""The case register by API: families, children and the team episodes that say which team
holds a child. Integrators write it; staff read it (every read of a child is audited)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, jsonify

from .. import access
from ..auth import authenticated, require_role
from ..extensions import db
from ..models import AuditEvent, Child
from ..services import register as service
from ..services.projection import audit
from ..services.transaction import commit
from . import body, bp, schema_for, schemas
from .openapi import doc

WRITERS = ("integrator", "admin")


def _require_writer() -> None:
    require_role(g.user, *WRITERS, action="change the case register (needs the integrator role)")


def _child_json(child: Child) -> dict:
    history = service.episodes(child.id)
    held = service.holding(child.id)
    return schema_for(schemas.ChildOut).dump({
        "id": child.id, "family_id": child.family_id, "name": child.name, "date_of_birth": child.date_of_birth,
        "siblings": service.sibling_ids(child.id, child.family_id),
        "heldBy": [{"team": e.team, "status": e.status, "since": e.started_at} for e in held],
        "episodes": history,
    })


def _family_json(family) -> dict:
    children = db.session.execute(sa.select(Child.id).where(Child.family_id == family.id).order_by(Child.id))
    return schema_for(schemas.FamilyOut).dump({"id": family.id, "name": family.name, "children": list(children.scalars())})


@bp.post("/families")
@authenticated
@doc("Add a family (a household) to the register", body=schemas.FamilyIn, response=(201, schemas.FamilyOut),
     errors=(403, 409, 422))
def create_family():
    _require_writer()
    data = body(schemas.FamilyIn)
    family = service.create_family(data["id"], data.get("name"), g.user.id)
    commit()
    return jsonify(schema_for(schemas.FamilyOut).dump({"id": family.id, "name": family.name, "children": []})), 201


@bp.get("/families/<family_id>")
@authenticated
@doc("A family and its children", response=(200, schemas.FamilyOut), errors=(404,))
def get_family(family_id: str):
    access.family_for(g.user, family_id)
    return jsonify(_family_json(service.get_family(family_id)))


@bp.patch("/families/<family_id>")
@authenticated
@doc("Change a family's name", body=schemas.FamilyChange, response=(200, schemas.FamilyOut),
     errors=(403, 404, 422))
def update_family(family_id: str):
    _require_writer()
    data = body(schemas.FamilyChange)
    family = service.update_family(service.get_family(family_id), data, g.user.id)
    commit()
    return jsonify(_family_json(family))


@bp.post("/children")
@authenticated
@doc("Add a child to the register", body=schemas.ChildIn, response=(201, schemas.ChildOut), errors=(403, 409, 422))
def create_child():
    _require_writer()
    data = body(schemas.ChildIn)
    child = service.create_child(data["id"], data.get("familyId"), data.get("name"), data.get("dateOfBirth"),
                                 g.user.id)
    commit()
    return jsonify(_child_json(child)), 201


@bp.get("/children/<child_id>")
@authenticated
@doc("A child: family, siblings, the teams holding them now and every team episode",
     response=(200, schemas.ChildOut), errors=(404,))
def get_child(child_id: str):
    access.child_for(g.user, child_id)
    child = service.get_child(child_id)
    result = _child_json(child)
    audit(None, "child_viewed", g.user.id, child_id=child.id)
    commit()
    return jsonify(result)


@bp.patch("/children/<child_id>")
@authenticated
@doc("Change a child's family (once set it cannot move), name or date of birth", body=schemas.ChildChange,
     response=(200, schemas.ChildOut), errors=(403, 404, 409, 422))
def update_child(child_id: str):
    _require_writer()
    data = body(schemas.ChildChange)
    child = service.update_child(service.get_child(child_id), data, g.user.id)
    commit()
    return jsonify(_child_json(child))


@bp.get("/children/<child_id>/history")
@authenticated
@doc("Every change to a child's register entry, and who looked, in order", response=(200, [schemas.HistoryEvent]),
     errors=(404,))
def child_history(child_id: str):
    access.child_for(g.user, child_id)
    service.get_child(child_id)
    events = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.child_id == child_id).order_by(AuditEvent.at, AuditEvent.id)
    ).scalars()
    return jsonify(schema_for(schemas.HistoryEvent, many=True).dump(events))


@bp.post("/children/<child_id>/episodes")
@authenticated
@doc("Record a team holding a child from a date (and, if it has ended, until one)", body=schemas.EpisodeIn,
     response=(201, schemas.EpisodeOut), errors=(403, 404, 409, 422))
def create_episode(child_id: str):
    _require_writer()
    data = body(schemas.EpisodeIn)
    episode = service.open_episode(service.get_child(child_id), data["team"], data["status"], data["startedAt"],
                                   g.user.id, ended_at=data.get("endedAt"))
    commit()
    return jsonify(schema_for(schemas.EpisodeOut).dump(episode)), 201


@bp.patch("/episodes/<episode_id>")
@authenticated
@doc("End an episode (endedAt, endReason) or change its status", body=schemas.EpisodeChange,
     response=(200, schemas.EpisodeOut), errors=(403, 404, 409, 422))
def update_episode(episode_id: str):
    _require_writer()
    data = body(schemas.EpisodeChange)
    episode = service.update_episode(service.get_episode(episode_id), data, g.user.id)
    commit()
    return jsonify(schema_for(schemas.EpisodeOut).dump(episode))
