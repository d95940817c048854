"""Starting, cancelling and messaging process instances."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..duty import DutyRota
from ..engine import DecisionFailed, Engine, EngineError, NothingWaiting
from ..errors import Invalid, NotFound
from ..extensions import db
from ..models import InstanceStatus, ProcessDefinition, ProcessInstance, User, new_id
from . import forms
from .deployments import latest
from .incidents import decision_failed
from .projection import apply_snapshot, audit, lock_instance, now, require_active, stored_spec
from .transaction import commit, engine_error


# As long as the register's child ids (and the instance's child_id column).
CHILD_ID_LENGTH = 80


def latest_definition(key: str) -> ProcessDefinition:
    definition = latest(ProcessDefinition, key)
    if definition is None:
        raise NotFound(f"no process definition with key {key!r}")
    return definition


def start(engine: Engine, user: User, key: str, business_key: str | None, variables: Any,
          rota: DutyRota | None = None) -> Any:
    """Start the latest version of ``key``; with a duty ``rota``, the case goes to the team
    on duty the day it arrived unless the caller names a `dutyTeam`. Returns the instance as
    written (see transaction.commit)."""
    definition = latest_definition(key)
    values = start_values(engine, definition, variables)
    if values.get("dutyTeam") is not None:
        values["dutyTeam"] = team = _known_team(values["dutyTeam"], rota)
    else:
        team = rota.team_for(values) if rota else None
    if business_key is not None and (not isinstance(business_key, str) or len(business_key) > 200):
        raise Invalid("businessKey must be text of at most 200 characters", {"businessKey": ["too long"]})
    business_key = business_key.strip() or None if business_key is not None else None
    if len(str(values.get("childId") or "")) > CHILD_ID_LENGTH:
        # The register and every child's records key on it: one cut short would find nothing.
        raise Invalid("childId is too long", {"childId": [f"must be at most {CHILD_ID_LENGTH} characters"]})
    instance = begin(engine, user.id, definition, business_key, values, team)
    return commit(answer=instance)


def _known_team(team: Any, rota: DutyRota | None) -> str:
    """A team named to hold the case must be one that exists (on the pathway's duty rota, or
    some user's team): any other would put its tasks in no team's tray, seen by nobody."""
    teams = set(rota.teams) if rota is not None else set(
        db.session.execute(sa.select(User.team).where(User.team.is_not(None)).distinct()).scalars())
    if isinstance(team, str) and team.strip() in teams:
        return team.strip()
    shown = ", ".join(sorted(teams)) or "none (no user has a team)"
    where = "on the duty rota" if rota is not None else "of the users"
    raise Invalid(f"no team {team!r}", {"dutyTeam": [f"Team holding the referral must be one of the teams {where}: {shown}"]})


def start_values(engine: Engine, definition: ProcessDefinition, variables: Any) -> dict[str, Any]:
    """``variables`` checked against the definition's start form; raises Invalid per field."""
    try:
        return forms.validate(engine.start_form(definition.id, stored_spec(definition.id)), variables, {},
                              engine.evaluate)
    except EngineError as exc:  # a requiredWhen expression that cannot be worked out
        raise engine_error(exc) from None


def begin(engine: Engine, user_id: str | None, definition: ProcessDefinition, business_key: str | None,
          values: dict[str, Any], team: str | None, **details: Any) -> ProcessInstance:
    """Start ``definition`` with checked ``values`` in the caller's transaction (a start, or
    a case handed over by another pathway's end); ``details`` go into the start's audit."""
    try:
        snapshot = engine.start(definition.id, stored_spec(definition.id), values)
    except EngineError as exc:
        raise engine_error(exc) from None
    instance = ProcessInstance(
        # The id now, not at a flush: the instance is written once, with its state, at commit.
        id=new_id(),
        definition_id=definition.id,
        definition_key=definition.key,
        business_key=business_key,
        status=InstanceStatus.ACTIVE.value,
        state={},
        variables={},
        team=team,
        started_at=now(),
        started_by=user_id,
    )
    db.session.add(instance)
    audit(instance.id, "instance_started", user_id, definitionKey=definition.key, version=definition.version,
          businessKey=business_key, team=team, variables=values, **details)
    apply_snapshot(instance, snapshot, user_id, started=True)
    return instance


def cancel(engine: Engine, user: User, instance_id: str, reason: str | None) -> ProcessInstance:
    instance = lock_instance(instance_id)
    require_active(instance)
    snapshot = engine.cancel(instance.definition_id, stored_spec(instance.definition_id), instance.state)
    apply_snapshot(instance, snapshot, user.id, ended_status=InstanceStatus.CANCELLED)
    audit(instance.id, "instance_cancelled", user.id, reason=reason)
    commit()
    return instance


def correlate_message(
    engine: Engine,
    user: User,
    message_name: str,
    business_key: str | None,
    instance_id: str | None,
    variables: Any,
) -> list[ProcessInstance]:
    """Deliver a message to every active instance it correlates with that waits for it.

    Correlation is ours (business key or instance id), so one instance's message never
    reaches another's.
    """
    values = forms.validate([], variables)
    query = sa.select(ProcessInstance.id).where(ProcessInstance.status == InstanceStatus.ACTIVE.value)
    if instance_id:
        query = query.where(ProcessInstance.id == instance_id)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    candidates = list(db.session.execute(query.order_by(ProcessInstance.started_at)).scalars())
    delivered = []
    for candidate_id in candidates:
        instance = lock_instance(candidate_id)
        if instance.status != InstanceStatus.ACTIVE.value:
            continue
        if "childId" in values and instance.child_id is not None and str(values["childId"]) != instance.child_id:
            # Whose case it is decides who may see it (and the child's records): not a message's to change.
            db.session.rollback()
            raise Invalid("a message cannot change whose case it is",
                          {"childId": [f"is {instance.child_id} for this case; a message cannot change it"]})
        try:
            snapshot = engine.deliver_message(instance.definition_id, stored_spec(instance.definition_id),
                                              instance.state, message_name, values)
        except NothingWaiting:
            # The failed delivery consumed the loaded state; reload before the next use.
            db.session.expire(instance)
            continue
        except DecisionFailed as exc:
            raise decision_failed(instance.id, exc, user.id) from None
        except EngineError as exc:
            raise engine_error(exc) from None
        audit(instance.id, "message_correlated", user.id, messageName=message_name, variables=values)
        apply_snapshot(instance, snapshot, user.id)
        delivered.append(instance)
    if not delivered:
        db.session.rollback()
        raise NotFound(f"no active process instance is waiting for message {message_name!r}",
                       {"businessKey": business_key, "processInstanceId": instance_id})
    commit()
    return delivered
