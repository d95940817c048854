"""A case handed over to another pathway: an end event's `handOverTo` starts that pathway's
latest version in the same transaction, so the case is never between teams with nobody
holding it (the A&I team's transfer to the CIN team, say)."""
from __future__ import annotations

from typing import Any

from flask import current_app

from ..errors import Invalid
from ..extensions import db
from ..models import ProcessDefinition, ProcessInstance
from .deployments import latest
from .projection import audit, stored_spec


def hand_over(instance: ProcessInstance, step: dict[str, Any], variables: dict[str, Any],
              user_id: str | None) -> ProcessInstance:
    """Start ``step["handOverTo"]`` with the case's variables its start form asks for, under
    the same business key; both cases' histories name the other."""
    from .instances import begin, start_values  # instances imports the projection, which calls this

    key = step["handOverTo"]
    engine = current_app.extensions["pathways.engine"]
    definition = latest(ProcessDefinition, key)
    if definition is None:  # refused at deployment; deleted by hand since
        db.session.rollback()
        raise Invalid(f"the case cannot be handed over to {key!r}: it is not deployed", {"handOverTo": [key]})
    form = engine.start_form(definition.id, stored_spec(definition.id))
    given = {field["id"]: variables[field["id"]] for field in form if field["id"] in variables}
    try:
        values = start_values(engine, definition, given)
    except Invalid as exc:
        db.session.rollback()
        raise Invalid(f"the case cannot be handed over to {definition.name}: {exc.message}", exc.details) from None
    received = begin(engine, user_id, definition, instance.business_key, values, None,
                     handedOverFrom=instance.id, fromDefinitionKey=instance.definition_key)
    audit(instance.id, "handed_over", user_id, activity_id=step["activityId"], definitionKey=key,
          processInstanceId=received.id)
    return received
