"""Putting an instance in incident: the engine could not go on without a guess."""
from __future__ import annotations

from ..engine import DecisionFailed
from ..errors import PathwaysError
from ..extensions import db
from ..models import InstanceStatus
from .projection import audit, lock_instance


class DecisionFailedError(PathwaysError):
    status, code = 422, "decision_failed"


def decision_failed(instance_id: str, exc: DecisionFailed, user: str | None) -> DecisionFailedError:
    """Roll back the action, record the incident in a transaction of its own, and return
    the error to raise: nothing the action did is kept."""
    db.session.rollback()
    instance = lock_instance(instance_id)
    if instance.status == InstanceStatus.ACTIVE.value:
        instance.status = InstanceStatus.INCIDENT.value
        instance.incident = str(exc)
        audit(instance.id, "incident", user, decision=exc.decision, error=exc.reason, inputs=exc.inputs)
    db.session.commit()
    return DecisionFailedError(
        f"{exc}; the process instance is now in incident and nothing was changed",
        {"decision": exc.decision, "reason": exc.reason, "inputs": exc.inputs, "processInstanceId": instance_id},
    )
