"""The PATHWAYS.md decisions written in FEEL, over every rule and the precedence between
rules."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.decision_tables import NoAnswer, decide, from_source

DMN = Path(__file__).resolve().parent.parent / "dmn"


def evaluate(key: str, **variables):
    decisions = from_source((DMN / f"{key}.dmn").read_bytes())
    return decide(decisions, key, variables)


HALTON = dict(siblingOpenToCin=False, closedToCinWithinMonths=None, transferInOnPlan="none")


@pytest.mark.parametrize("change,team,reason", [
    ({"transferInOnPlan": "cp"}, "cin", "3.4"),
    ({"transferInOnPlan": "cin"}, "cin", "3.4"),
    ({"siblingOpenToCin": True}, "cin", "3.2"),
    ({"closedToCinWithinMonths": 2}, "cin", "3.3"),
    ({"closedToCinWithinMonths": 3}, "cin", "3.3"),
    ({"closedToCinWithinMonths": 4}, "dat", "Duty and Assessment"),
    ({}, "dat", "Duty and Assessment"),
    # Precedence: a plan on transfer in is the reason recorded even when a sibling is open.
    ({"transferInOnPlan": "cp", "siblingOpenToCin": True, "closedToCinWithinMonths": 1}, "cin", "3.4"),
    ({"siblingOpenToCin": True, "closedToCinWithinMonths": 1}, "cin", "3.2"),
], ids=["transfer-in-cp", "transfer-in-cin", "sibling-open", "closed-2-months", "closed-3-months",
        "closed-4-months", "none", "plan-beats-sibling", "sibling-beats-closure"])
def test_halton_sap_allocation(change, team, reason):
    result = evaluate("halton_sap_allocation", **{**HALTON, **change})
    assert result["team"] == team and reason in result["reason"]


def test_halton_refuses_an_unknown_plan_value():
    with pytest.raises(NoAnswer, match="transferInOnPlan"):
        evaluate("halton_sap_allocation", **{**HALTON, "transferInOnPlan": "looked_after"})


CIN = dict(source="a_and_i", expectedSupportWeeks=20, previousInvolvementSameIssues=False,
           longTermEarlyHelpNotSustained=False, clearPlanWithOutcomes=True, edgeOfCare=False, cinManagerAgrees=False)


@pytest.mark.parametrize("change,decision", [
    ({}, "transfer_to_cin"),
    ({"expectedSupportWeeks": 12}, "stay_with_worker"),
    ({"expectedSupportWeeks": 8}, "stay_with_worker"),
    ({"clearPlanWithOutcomes": False}, "plan_required"),
    ({"edgeOfCare": True}, "stay_with_worker"),
    ({"source": "irt", "previousInvolvementSameIssues": True, "cinManagerAgrees": True}, "cin_completes_assessment"),
    ({"source": "irt", "longTermEarlyHelpNotSustained": True, "cinManagerAgrees": True}, "cin_completes_assessment"),
    ({"source": "irt", "expectedSupportWeeks": 26, "cinManagerAgrees": True}, "cin_completes_assessment"),
    ({"source": "irt", "previousInvolvementSameIssues": True}, "stay_with_worker"),
    ({"source": "cin_review", "cinManagerAgrees": True}, "transfer_to_cin"),
    ({"source": "cin_review"}, "stay_with_worker"),
    ({"source": "cin_review", "cinManagerAgrees": True, "clearPlanWithOutcomes": False}, "plan_required"),
    # Precedence: Edge of Care stays with the worker even when IRT and the manager would move it.
    ({"source": "irt", "edgeOfCare": True, "previousInvolvementSameIssues": True, "cinManagerAgrees": True},
     "stay_with_worker"),
    ({"expectedSupportWeeks": None}, "stay_with_worker"),
], ids=["a-and-i-longer-than-12-weeks", "exactly-12-weeks-stays", "short-term-stays", "no-clear-plan",
        "edge-of-care", "irt-previous-involvement", "irt-early-help-not-sustained", "irt-longer-term",
        "irt-without-manager", "review-with-manager", "review-without-manager", "review-without-plan",
        "edge-of-care-beats-irt", "weeks-unknown-stays"])
def test_cin_team_entry(change, decision):
    assert evaluate("cin_team_entry", **{**CIN, **change}) == {"decision": decision}
