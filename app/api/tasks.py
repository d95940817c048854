"""The human tasks a caller may see and work."""
from __future__ import annotations


import sqlalchemy as sa
from flask import g, jsonify

from .. import access
from ..auth import authenticated
from ..models import Task, TaskCandidateGroup
from ..services import tasks as service
from ..services.transaction import commit
from . import body, bp, engine, page, query, schema_for, schemas
from .instances import instance_json
from .openapi import doc


@bp.get("/tasks")
@authenticated
@doc("Tasks the caller may see (their groups, or assigned to them)", query=schemas.TaskQuery,
     response=(200, [schemas.TaskOut]), errors=(422,))
def list_tasks():
    args = query(schemas.TaskQuery)
    stmt = service.visible_tasks_query(g.user).where(Task.status == args["status"])
    if "candidateGroup" in args:
        stmt = stmt.where(Task.id.in_(
            sa.select(TaskCandidateGroup.task_id).where(TaskCandidateGroup.group == args["candidateGroup"])))
    if "assignee" in args:
        stmt = stmt.where(Task.assignee == args["assignee"])
    if "businessKey" in args:
        stmt = stmt.where(Task.business_key == args["businessKey"])
    if "processInstanceId" in args:
        stmt = stmt.where(Task.instance_id == args["processInstanceId"])
    if "overdue" in args:
        # The engine's clock, as the inbox reads it: overdue by the time the due dates count in.
        overdue = sa.and_(Task.due_at.is_not(None), Task.due_at < engine().clock())
        stmt = stmt.where(overdue if args["overdue"] else sa.not_(overdue))
    stmt = stmt.order_by(Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)
    return page(stmt, args, schema_for(schemas.TaskOut, many=True).dump)


@bp.get("/tasks/<task_id>")
@authenticated
@doc("One task with its form fields", response=(200, schemas.TaskOut), errors=(403, 404))
def get_task(task_id: str):
    task = service.get_visible(g.user, task_id)
    result = schema_for(schemas.TaskOut).dump(task)
    access.record_read(g.user, "task", instance_id=task.instance_id, child_id=task.instance.child_id)
    commit()
    return jsonify(result)


@bp.post("/tasks/<task_id>/claim")
@authenticated
@doc("Take a task into your own tray", response=(200, schemas.TaskOut), errors=(403, 404, 409))
def claim(task_id: str):
    return jsonify(schema_for(schemas.TaskOut).dump(service.claim(g.user, task_id)))


@bp.post("/tasks/<task_id>/unclaim")
@authenticated
@doc("Put a claimed task back in the group's tray", response=(200, schemas.TaskOut), errors=(403, 404, 409))
def unclaim(task_id: str):
    return jsonify(schema_for(schemas.TaskOut).dump(service.unclaim(g.user, task_id)))


@bp.post("/tasks/<task_id>/assign")
@authenticated
@doc("Assign a task to a member of its group (managers)", body=schemas.AssignRequest,
     response=(200, schemas.TaskOut), errors=(403, 404, 409))
def assign(task_id: str):
    data = body(schemas.AssignRequest)
    return jsonify(schema_for(schemas.TaskOut).dump(service.assign(g.user, task_id, data["userId"])))


@bp.post("/tasks/<task_id>/complete")
@authenticated
@doc("Complete a task with its form's variables", body=schemas.VariablesRequest,
     response=(200, schemas.InstanceOut), errors=(403, 404, 409))
def complete(task_id: str):
    """422 names each missing or invalid field; 409 when the task is no longer active."""
    data = body(schemas.VariablesRequest)
    return jsonify(instance_json(service.complete(engine(), g.user, task_id, data["variables"])))
