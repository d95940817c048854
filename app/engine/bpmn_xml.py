"""Reading Camunda 7 BPMN and DMN as Camunda Modeler writes them: namespaces, extension
attributes and properties, form fields, lanes as roles. Shared by the parser, which turns a
deployment into specs, and the checks of what a deployment may hold."""
from __future__ import annotations

import re
from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


DMN_NAMESPACES = {
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
}


NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


# "children": the family's children, a list of {childId, dateOfBirth, name} (forms.py checks it).
FIELD_TYPES = {"string", "long", "boolean", "date", "enum", "children"}


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


JUEL = re.compile(r"^\s*\$\{(.*)\}\s*$", re.DOTALL)


# `${...}` parts of a task's name or documentation (runtime.Engine works them out).
NAME_EXPRESSION = re.compile(r"\$\{(.*?)\}")


def expression_in(text: str | None) -> str | None:
    """The expression of a value written as `${expr}`, or None for a plain value."""
    match = JUEL.match(text or "")
    return match.group(1).strip() if match else None


def unwrap(expression: str | None) -> str | None:
    """`${expr}` as Camunda Modeler users type it, or a bare expression, gives `expr`."""
    if expression is None:
        return None
    match = JUEL.match(expression)
    return (match.group(1) if match else expression).strip()


def camunda_attr(node: etree._Element, name: str) -> str | None:
    value = node.get(f"{{{CAMUNDA_NS}}}{name}")
    return value.strip() if value and value.strip() else None


def form_fields(node: etree._Element) -> list[dict[str, Any]]:
    """The `camunda:formData` fields of a task or start event, as plain dicts."""
    fields = []
    for xml_field in node.iterfind("bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        constraints = {
            c.get("name"): c.get("config")
            for c in xml_field.iterfind("camunda:validation/camunda:constraint", NS)
        }
        properties = {
            p.get("id"): p.get("value")
            for p in xml_field.iterfind("camunda:properties/camunda:property", NS)
        }
        fields.append({
            "id": xml_field.get("id") or "",
            "label": xml_field.get("label") or xml_field.get("id") or "",
            "type": xml_field.get("type") or "string",
            "required": "required" in constraints,
            "readonly": "readonly" in constraints,
            # Camunda's min/max/minlength/maxlength, and mustBe (a boolean that must be given
            # as that value, e.g. "the police attended").
            "constraints": {k: v for k, v in constraints.items() if k not in ("required", "readonly")},
            "options": [
                {"id": v.get("id"), "name": v.get("name") or v.get("id")}
                for v in xml_field.iterfind("camunda:value", NS)
            ],
            "defaultValue": xml_field.get("defaultValue"),
            "properties": properties,
        })
    return fields


def lane_groups(node: etree._Element) -> list[str]:
    """Groups of the innermost lane holding ``node`` (a lane's `candidateGroups` property)."""
    node_id = node.get("id")
    lanes = node.getroottree().getroot().xpath(
        ".//bpmn:lane[bpmn:flowNodeRef[normalize-space(text())=$id]]", namespaces=NS, id=node_id
    )
    for lane in reversed(lanes):
        for prop in lane.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
            if prop.get("name") == "candidateGroups" and prop.get("value"):
                return split_list(prop.get("value"))
    return []


ASSESSMENT_PROPERTY = "timescale.assessment"


def assessment_timescale(node: etree._Element) -> str | None:
    """A step that is an assessment says so with the property `timescale.assessment`: its
    timescale in working days, a whole number or `${expression}` (e.g. the 10 or 35 days
    decided in supervision). The manager view lists these steps as open assessments."""
    for prop in node.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
        if prop.get("name") == ASSESSMENT_PROPERTY:
            return (prop.get("value") or "").strip()
    return None


def split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def output_parameters(node: etree._Element) -> dict[str, str]:
    """Camunda's output mapping of a task: variable name → expression, worked out when the
    task completes (e.g. a count of the TAFs held)."""
    return {
        p.get("name") or "": unwrap(p.text) or ""
        for p in node.iterfind("bpmn:extensionElements/camunda:inputOutput/camunda:outputParameter", NS)
    }


ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"


MODELER_NS = "http://camunda.org/schema/modeler/1.0"


def decision_ref(node: etree._Element) -> str | None:
    return camunda_attr(node, "decisionRef")


def dmn_outputs(root: etree._Element) -> dict[str, set[str]]:
    """Each decision of a DMN document → the names it sets (its table's outputs, or a
    literal expression's variable)."""
    return {d.get("id"): {o.get("name") for o in d.iter("{*}output") if o.get("name")}
            | {v.get("name") for v in d.iter("{*}variable") if v.get("name")}
            for d in root.findall("{*}decision")}


def dmn_inputs(root: etree._Element) -> dict[str, set[str]]:
    """Each decision table of a DMN document → the variables its inputs read (those that are
    a plain name, as our tables' inputs must be)."""
    return {d.get("id"): {text.strip() for e in d.iter("{*}inputExpression")
                          if (text := e.findtext("{*}text") or "").strip().isidentifier()}
            for d in root.findall("{*}decision")}


def element_label(node: etree._Element) -> str:
    kind = re.sub(r"(?<!^)(?=[A-Z])", " ", etree.QName(node).localname).lower()
    return f"{kind} {node.get('id')} ({node.get('name') or 'unnamed'})"


def end_property(root: etree._Element, name: str) -> dict[str, str]:
    """End event id → its extension property ``name`` (empty if given without a value)."""
    return {end.get("id"): prop.get("value") or "" for end in root.iter(f"{{{BPMN_NS}}}endEvent")
            for prop in end.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS)
            if prop.get("name") == name}


def end_outcomes(root: etree._Element) -> dict[str, str]:
    return {end: value for end, value in end_property(root, "outcome").items() if value}
