"""Health, deployments, process definitions and decisions."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g, jsonify, request

from .. import access
from ..auth import authenticated, require_role
from ..engine import EngineError
from ..errors import BadRequest, Invalid, NotFound
from ..extensions import db
from ..models import DecisionDefinition, ProcessDefinition
from ..services import deployments
from . import NUL, body, bp, schema_for, schemas
from .openapi import build, doc


@bp.get("/health")
@doc("Is Pathways up, and can it reach its database and Redis?", response=(200, schemas.Health),
     auth=False, errors=(503,))
def health():
    database = "ok"
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        database = "unavailable"
    redis = "not configured"
    url = current_app.config.get("REDIS_URL")
    if url:
        from redis import Redis
        from redis.exceptions import RedisError
        try:
            Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
            redis = "ok"
        except RedisError:
            redis = "unavailable"
    ok = database == "ok" and redis != "unavailable"
    return jsonify({"status": "ok" if ok else "degraded", "database": database, "redis": redis}), 200 if ok else 503


@bp.get("/openapi.json")
def openapi():
    return jsonify(build(current_app))


@bp.get("/process-definitions")
@authenticated
@doc("The latest version of each deployed process", response=(200, [schemas.ProcessDefinition]))
def list_definitions():
    return jsonify(schema_for(schemas.ProcessDefinition, many=True).dump(deployments.latest_versions(ProcessDefinition)))


@bp.post("/deployments")
@authenticated
@doc("Deploy .bpmn and .dmn files (all or nothing)", multipart=True,
     response=(201, schemas.DeploymentResult), errors=(403,))
def deploy():
    """Send the files as multipart form data under `files`. A process or decision whose
    content changed gets a new version; running instances stay on theirs. Any problem in
    any file refuses the whole deployment with the problems listed per file."""
    require_role(g.user, "process-owner", action="deploy (needs the process-owner role)")
    uploads = request.files.getlist("files") or list(request.files.values())
    if not uploads:
        raise BadRequest("send the .bpmn and .dmn files as multipart form data under 'files'")
    limit = current_app.config["PATHWAYS_MAX_FILE_BYTES"]
    files = []
    for upload in uploads:
        name = upload.filename or "unnamed"
        if NUL in name:
            raise BadRequest("the deployment was refused; nothing was deployed",
                             {"files": {name: ["a file name must not contain the NUL character"]}})
        # One byte past the limit is enough to refuse the file; never hold more.
        files.append((name, upload.stream.read(limit + 1)))
        upload.close()
    result = deployments.deploy(files, limit, g.user.id)

    def item(row):
        kind = "process" if isinstance(row, ProcessDefinition) else "decision"
        return {"kind": kind, "key": row.key, "version": row.version, "file": row.source_file}

    dep = result.deployment
    return jsonify(schema_for(schemas.DeploymentResult).dump({
        "id": dep.id, "deployedAt": dep.deployed_at,
        "deployed": [item(r) for r in result.created], "unchanged": [item(r) for r in result.unchanged],
        "warnings": result.warnings,
    })), 201


@bp.get("/decisions")
@authenticated
@doc("The latest version of each deployed decision", response=(200, [schemas.DecisionDefinition]))
def list_decisions():
    return jsonify(schema_for(schemas.DecisionDefinition, many=True).dump(deployments.latest_versions(DecisionDefinition)))


@bp.post("/decisions/<key>/evaluate")
@authenticated
@doc("Evaluate a decision on the variables given", body=schemas.VariablesRequest,
     response=(200, {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}),
     errors=(404, 422))
def evaluate_decision(key: str):
    """Returns the decision's outputs as an object, or a list of objects for COLLECT; 422
    when it cannot answer (no rule, a value of the wrong type, a missing input it depends on)."""
    variables = body(schemas.VariablesRequest)["variables"]
    if variables.get("childId") not in (None, ""):
        # The register fills inputs for the child: only for a child the caller may see.
        access.child_for(g.user, str(variables["childId"]))
    decision = deployments.latest(DecisionDefinition, key)
    if decision is None:
        raise NotFound(f"no decision with key {key!r}")
    evaluator = current_app.extensions["pathways.decisions"]
    try:
        result = evaluator.evaluate(key, decision.content_hash, variables, decision.source_xml)
    except EngineError as exc:
        raise Invalid(str(exc), {"variables": [str(exc)]}) from None
    return jsonify(result)

