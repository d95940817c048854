"""Starting, reading, cancelling and messaging process instances."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, g, jsonify

from .. import access
from ..auth import authenticated, require_role
from ..errors import Invalid
from ..extensions import db
from ..models import AuditEvent, ProcessInstance
from ..services import instances as service
from ..services.projection import open_tasks, pending_timers
from ..services.transaction import commit
from . import body, bp, engine, page, query, schema_for, schemas
from .openapi import doc


def instance_json(instance: Any) -> dict:
    """A stored instance, or one an action returned as written (its tasks and timers on it)."""
    if "active_tasks" not in vars(instance):
        instance.active_tasks = open_tasks(instance.id)
        instance.timer_list = pending_timers(instance.id)
    return schema_for(schemas.InstanceOut).dump(instance)


def _get(instance_id: str) -> ProcessInstance:
    return access.instance_for(g.user, instance_id)


@bp.post("/process-definitions/<key>/start")
@authenticated
@doc("Start the latest version of a process", body=schemas.StartRequest,
     response=(201, schemas.InstanceOut), errors=(403, 404))
def start(key: str):
    """Variables are checked against the start event's form fields, if it has any."""
    require_role(g.user, "integrator", "manager", action="start a process (needs the integrator role)")
    data = body(schemas.StartRequest)
    rota = current_app.extensions["pathways.duty_rotas"].get(key)
    instance = service.start(engine(), g.user, key, data.get("businessKey"), data["variables"], rota)
    return jsonify(instance_json(instance)), 201


@bp.get("/process-instances")
@authenticated
@doc("Find process instances", query=schemas.InstanceQuery, response=(200, [schemas.InstanceSummary]),
     errors=(422,))
def list_instances():
    args = query(schemas.InstanceQuery)
    stmt = (sa.select(ProcessInstance).where(access.instance_condition(g.user))
            .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id))
    if "businessKey" in args:
        stmt = stmt.where(ProcessInstance.business_key == args["businessKey"])
    if "definitionKey" in args:
        stmt = stmt.where(ProcessInstance.definition_key == args["definitionKey"])
    if "status" in args:
        stmt = stmt.where(ProcessInstance.status == args["status"])
    return page(stmt, args, schema_for(schemas.InstanceSummary, many=True).dump)


@bp.get("/process-instances/<instance_id>")
@authenticated
@doc("One process instance with its active tasks and waiting timers", response=(200, schemas.InstanceOut),
     errors=(404,))
def get_instance(instance_id: str):
    instance = _get(instance_id)
    result = instance_json(instance)
    access.record_read(g.user, "instance", instance_id=instance.id, child_id=instance.child_id)
    commit()
    return jsonify(result)


@bp.get("/process-instances/<instance_id>/history")
@authenticated
@doc("Everything that happened to an instance, in order", response=(200, [schemas.HistoryEvent]),
     errors=(404,))
def history(instance_id: str):
    instance = _get(instance_id)
    events = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
    ).scalars()
    result = schema_for(schemas.HistoryEvent, many=True).dump(events)
    access.record_read(g.user, "history", instance_id=instance.id, child_id=instance.child_id)
    commit()
    return jsonify(result)


@bp.post("/process-instances/<instance_id>/cancel")
@authenticated
@doc("Cancel a running instance", body=schemas.CancelRequest, response=(200, schemas.InstanceOut),
     errors=(403, 404, 409))
def cancel(instance_id: str):
    _get(instance_id)
    require_role(g.user, "integrator", "manager", action="cancel a process instance")
    data = body(schemas.CancelRequest)
    instance = service.cancel(engine(), g.user, instance_id, data.get("reason"))
    return jsonify(instance_json(instance))


@bp.post("/messages")
@authenticated
@doc("Deliver a message to the instances waiting for it", body=schemas.MessageRequest,
     response=(200, schemas.MessageResult), errors=(403, 404))
def message():
    """Correlates by `businessKey` and/or `processInstanceId`; 404 when nothing waits."""
    require_role(g.user, "integrator", action="send messages (needs the integrator role)")
    data = body(schemas.MessageRequest)
    if not data.get("businessKey") and not data.get("processInstanceId"):
        raise Invalid("give businessKey or processInstanceId",
                      {"businessKey": ["businessKey or processInstanceId is required"]})
    delivered = service.correlate_message(engine(), g.user, data["messageName"], data.get("businessKey"),
                                          data.get("processInstanceId"), data["variables"])
    return jsonify({"correlated": len(delivered), "processInstanceIds": [i.id for i in delivered]})


@bp.post("/process-instances/<instance_id>/retry")
@authenticated
@doc("Take an instance out of incident and deliver its timers again", response=(200, schemas.InstanceOut),
     errors=(403, 404, 409))
def retry(instance_id: str):
    """For an instance in `incident` after a timer failed every attempt: its pending timers
    get fresh attempts and are delivered again (at once if already due)."""
    from redis.exceptions import RedisError

    from ..services import timers

    _get(instance_id)
    require_role(g.user, "manager", "integrator", action="retry an instance in incident")
    instance, pending = timers.retry(g.user, instance_id)
    queue = current_app.extensions["pathways.timer_queue"]
    if queue is not None:
        try:
            queue.reschedule(pending)
        except RedisError as exc:
            # Committed already: the sweep delivers them once Redis is back.
            current_app.logger.warning("retry: timers not re-enqueued now (%s); the sweep will", exc)
    return jsonify(instance_json(instance))
