"""Message events whose variables land in the process, as Camunda's REST API does it.

SpiffWorkflow's Camunda message event puts a payload under one result variable (or a
`<task>_Response` name it invents). An integrator sending `{"variables": {...}}` expects
those variables in the process, so without a `camunda:resultVariable` they are merged in.
"""
from __future__ import annotations

from SpiffWorkflow.camunda.parser import event_parsers as camunda_events
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition


class MessageEvent(MessageEventDefinition):
    def update_internal_data(self, my_task, event):
        my_task.internal_data[self.name] = event.payload

    def update_task_data(self, my_task):
        payload = my_task.internal_data.get(self.name) or {}
        if self.result_var:
            my_task.data[self.result_var] = payload
        else:
            my_task.set_data(**payload)


class _MessageParsing:
    def parse_message_event(self, message_event):
        parsed = super().parse_message_event(message_event)
        return MessageEvent(parsed.name, parsed.correlation_properties, parsed.expression, parsed.result_var)


def _with_messages(cls):
    return type(cls.__name__, (RegisterParsing, _MessageParsing, cls), {})


CAMUNDA_PROPERTY = ("{*}extensionElements/{http://camunda.org/schema/1.0/bpmn}properties"
                    "/{http://camunda.org/schema/1.0/bpmn}property")
REGISTER_PROPERTIES = {"episode.open": "open", "episode.status": "status", "episode.close": "close",
                       "episode.at": "at"}


def register_actions(node) -> dict[str, str]:
    """A step's changes to the case register, from its properties: `episode.close` (the team
    that stops holding the child, or `*` for every team), `episode.open` and
    `episode.status` (the team that starts holding them, and how), and `episode.at` (when
    the change takes effect, e.g. the agreed transfer date; default: when the step is done).
    Values are team codes, dates or `${expression}`."""
    return {REGISTER_PROPERTIES[p.get("name")]: p.get("value") for p in node.iterfind(CAMUNDA_PROPERTY)
            if p.get("name") in REGISTER_PROPERTIES and p.get("value")}


def documents(node) -> list[str]:
    """The documents a step produces when it completes: its `document` property, a template
    name or several separated by commas (e.g. `referral_outcome_letter`)."""
    return [kind.strip() for p in node.iterfind(CAMUNDA_PROPERTY) if p.get("name") == "document"
            for kind in (p.get("value") or "").split(",") if kind.strip()]


class RegisterParsing:
    """A step's effects outside the engine: case register changes and documents."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        node = node if node is not None else self.node
        actions, kinds = register_actions(node), documents(node)
        if actions:
            extensions = {**extensions, "register": actions}
        if kinds:
            extensions = {**extensions, "documents": kinds}
        return extensions


END_PROPERTIES = ("outcome", "handOverTo")


class _OutcomeParsing:
    """An end event's `outcome` property, and its `handOverTo` (the key of the pathway the
    case goes on in, started as this one ends), kept where the serializer keeps them."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        for prop in (node if node is not None else self.node).iterfind(CAMUNDA_PROPERTY):
            if prop.get("name") in END_PROPERTIES and prop.get("value"):
                extensions = {**extensions, prop.get("name"): prop.get("value")}
        return extensions


START = _with_messages(camunda_events.CamundaStartEventParser)
END = type("CamundaEndEventParser",
           (_OutcomeParsing, RegisterParsing, _MessageParsing, camunda_events.CamundaEndEventParser), {})
CATCH = _with_messages(camunda_events.CamundaIntermediateCatchEventParser)
THROW = _with_messages(camunda_events.CamundaIntermediateThrowEventParser)
BOUNDARY = _with_messages(camunda_events.CamundaBoundaryEventParser)
