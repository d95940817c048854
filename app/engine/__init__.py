"""The engine adapter: the only package that imports SpiffWorkflow.

The rest of Pathways hands it plain dicts (stored specs and states, variables) and gets
plain dicts back.
"""
from .decisions import DecisionEvaluator
from .bpmn_xml import dmn_inputs, dmn_outputs, expression_in
from .diagram_checks import decision_input_warnings
from .parser import DeploymentRejected, ParsedDecision, ParsedDeployment, ParsedProcess, parse_deployment
from .runtime import DecisionFailed, Engine, EngineError, NothingWaiting, Snapshot, TaskNotActive
from .xmlsafe import XmlRejected, parse_xml

__all__ = [
    "DecisionEvaluator",
    "DecisionFailed",
    "DeploymentRejected",
    "Engine",
    "EngineError",
    "NothingWaiting",
    "ParsedDecision",
    "ParsedDeployment",
    "ParsedProcess",
    "Snapshot",
    "TaskNotActive",
    "XmlRejected",
    "decision_input_warnings",
    "dmn_inputs",
    "dmn_outputs",
    "expression_in",
    "parse_deployment",
    "parse_xml",
]
