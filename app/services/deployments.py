"""Deploying diagrams and decision tables: all files or none, a new version only where
the content changed."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ..engine import DeploymentRejected, decision_input_warnings, dmn_inputs, dmn_outputs, parse_deployment, parse_xml
from ..errors import BadRequest
from ..extensions import db
from ..models import DecisionDefinition, Deployment, ProcessDefinition, User
from . import documents, register
from .projection import now
from .transaction import commit


@dataclass
class DeploymentResult:
    deployment: Deployment | None
    created: list[ProcessDefinition | DecisionDefinition] = field(default_factory=list)
    unchanged: list[ProcessDefinition | DecisionDefinition] = field(default_factory=list)
    # Deployed, but worth the process owner's eye: a group nobody is in (yet).
    warnings: list[str] = field(default_factory=list)


def latest(model, key: str):
    """The newest version of process or decision ``key``, or None."""
    return db.session.execute(_latest_statement(model), {"key": key}).scalar_one_or_none()


@functools.cache
def _latest_statement(model) -> sa.Select:
    # Built once (every start sends it): SQLAlchemy works out a new statement object's cache
    # key anew each time, as projection._locking_statements says.
    return (sa.select(model).where(model.key == sa.bindparam("key", type_=sa.String))
            .order_by(model.version.desc()).limit(1))


def latest_versions(model) -> list:
    """The newest version of every process or decision, by key."""
    newest = sa.select(model.key, sa.func.max(model.version).label("v")).group_by(model.key).subquery()
    return list(db.session.execute(
        sa.select(model).join(newest, sa.and_(model.key == newest.c.key, model.version == newest.c.v))
        .order_by(model.key)
    ).scalars())


def deploy(files: list[tuple[str, bytes]], max_file_bytes: int, user_id: str | None) -> DeploymentResult:
    decisions = {d.key: d for d in latest_versions(DecisionDefinition)}
    processes = {p.key: p for p in latest_versions(ProcessDefinition)}
    stored = {key: _stored_xml(d.source_xml) for key, d in decisions.items()}
    # What each deployed decision sets: a diagram's condition on such a name is not a form's choice.
    outputs = {key: names for root in stored.values() for key, names in dmn_outputs(root).items()}
    specs = {key: p.spec for key, p in processes.items()}
    try:
        parsed = parse_deployment(files, max_file_bytes, {key: d.content_hash for key, d in decisions.items()},
                                  documents.kinds(), set(processes), outputs, specs)
    except DeploymentRejected as exc:
        raise BadRequest("the deployment was refused; nothing was deployed", {"files": exc.errors}) from None
    at = now()
    deployment = Deployment(deployed_at=at, deployed_by=user_id, files=[name for name, _ in files])
    result = DeploymentResult(deployment=deployment)
    changed_inputs: dict[str, set[str]] = {}
    db.session.add(deployment)
    db.session.flush()
    for decision in parsed.decisions:
        current = decisions.get(decision.key)
        if current is not None and current.content_hash == decision.content_hash:
            result.unchanged.append(current)
            continue
        row = DecisionDefinition(
            key=decision.key, version=(current.version + 1) if current else 1, name=decision.name,
            content_hash=decision.content_hash, source_file=decision.source_file,
            source_xml=decision.source_xml, deployment_id=deployment.id, deployed_at=at,
        )
        db.session.add(row)
        result.created.append(row)
        if current is not None and (added := decision.inputs - dmn_inputs(stored[decision.key]).get(decision.key, set())):
            changed_inputs[decision.key] = added
    held: set[str] | None | bool = False  # the groups users are in, read once a new version needs them
    for process in parsed.processes:
        current = processes.get(process.key)
        if current is not None and current.content_hash == process.content_hash:
            result.unchanged.append(current)
            continue
        row = ProcessDefinition(
            key=process.key, version=(current.version + 1) if current else 1, name=process.name,
            content_hash=process.content_hash, source_file=process.source_file,
            source_xml=process.source_xml, spec=process.spec, deployment_id=deployment.id, deployed_at=at,
        )
        db.session.add(row)
        result.created.append(row)
        held = _groups_held() if held is False else held
        result.warnings += _groups_nobody_is_in(process, held)
    if changed_inputs:
        all_outputs = {**outputs, **{d.key: d.outputs for d in parsed.decisions}}
        result.warnings += decision_input_warnings(changed_inputs, {**specs, **{p.key: p.spec for p in parsed.processes}},
                                                   all_outputs, set(register.REGISTER_FACTS))
    commit()
    return result


def _groups_held() -> set[str] | None:
    """The groups some user is in; None while there are no users at all."""
    users = db.session.execute(sa.select(User.groups)).scalars().all()
    return {group for groups in users for group in (groups or [])} if users else None


def _groups_nobody_is_in(process, held: set[str] | None) -> list[str]:
    """A task for a group no user is in waits in nobody's tray (a typo in a group name, or
    users not yet made). Not refused: users may come after the deploy, or from the identity
    provider at sign-in. Said only once there are users (``held`` not None), not on a new
    installation's first deploy."""
    if held is None:
        return []
    return [f"{process.key}: no user is in group {group}, which {', '.join(tasks)} "
            f"{'is' if len(tasks) == 1 else 'are'} for: {'it' if len(tasks) == 1 else 'they'} will wait in "
            f"nobody's tray until someone is"
            for group, tasks in sorted(process.groups.items()) if group not in held]


def _stored_xml(text: str):
    """A deployed file's XML (checked when it was deployed, so its own size is its limit)."""
    data = text.encode("utf-8")
    return parse_xml(data, len(data) + 1)


def files_from_paths(paths: list[Path]) -> list[tuple[str, bytes]]:
    """The .bpmn and .dmn files named, or found under the folders named."""
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".bpmn", ".dmn"))
        elif path.exists():
            found = [path]
        else:
            raise BadRequest(f"{path} does not exist")
        files += [(p.name, p.read_bytes()) for p in found]
    return files
