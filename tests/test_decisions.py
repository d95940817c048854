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


BLACKPOOL = dict(levelOfNeed=3, consent=True, openToTeam=None, previousTeam=None, monthsSinceClosed=None,
                 section37Request=False, transferInConference=False, policeProtection=False, knownToTeams=False,
                 exploitationRisk=False, complexNeeds="none", safeguardingConcern=False, homeless16or17=False,
                 preBirth=False, significantHistory=False, gestationWeeks=None)


@pytest.mark.parametrize("change,route,assessment,priority", [
    # One case per rule, in the table's order.
    ({"openToTeam": "ssf", "policeProtection": True, "knownToTeams": True}, "redirect_open_team", "none", "immediate"),
    ({"openToTeam": "soc"}, "redirect_open_team", "none", "normal"),
    ({"policeProtection": True, "knownToTeams": True, "previousTeam": "ssf", "monthsSinceClosed": 2},
     "previous_team", "section47", "immediate"),
    ({"policeProtection": True, "levelOfNeed": 1}, "ast", "section47", "immediate"),
    ({"policeProtection": True, "knownToTeams": True, "previousTeam": "ssf", "monthsSinceClosed": 9},
     "ast", "section47", "immediate"),
    ({"section37Request": True}, "ssf", "cafa", "normal"),
    ({"transferInConference": True}, "ssf", "none", "normal"),
    ({"preBirth": True, "significantHistory": True, "gestationWeeks": 8}, "ssf", "cafa", "immediate"),
    ({"preBirth": True, "gestationWeeks": 13}, "ast", "cafa", "immediate"),
    ({"preBirth": True, "gestationWeeks": 12}, "ast", "cafa", "normal"),
    ({"homeless16or17": True, "levelOfNeed": 2}, "homeless_protocol", "cafa", "immediate"),
    ({"exploitationRisk": True}, "ast_awaken", "cafa", "normal"),
    ({"previousTeam": "sccn", "monthsSinceClosed": 6}, "previous_team", "cafa", "normal"),
    ({"complexNeeds": "clear", "levelOfNeed": 2}, "sccn", "cafa", "normal"),
    ({"complexNeeds": "unclear", "levelOfNeed": 2, "safeguardingConcern": True}, "ast", "cafa", "normal"),
    ({"complexNeeds": "unclear", "levelOfNeed": 3}, "tis", "early_help", "normal"),
    ({"levelOfNeed": 4}, "ast", "section47", "immediate"),
    ({}, "ast", "cafa", "normal"),
    ({"levelOfNeed": 2, "safeguardingConcern": True}, "ast", "cafa", "normal"),
    ({"levelOfNeed": 2}, "tis", "early_help", "normal"),
    ({"levelOfNeed": 2, "consent": False}, "advice", "none", "normal"),
    ({"levelOfNeed": 1}, "advice", "none", "normal"),
    ({"complexNeeds": "unclear", "consent": False, "levelOfNeed": 2}, "advice", "none", "normal"),
    ({"complexNeeds": "unclear", "consent": False}, "ast", "cafa", "normal"),
    # Boundaries and precedence.
    ({"previousTeam": "ssf", "monthsSinceClosed": 7}, "ast", "cafa", "normal"),
    ({"previousTeam": "ast", "monthsSinceClosed": 1}, "ast", "cafa", "normal"),
    ({"previousTeam": "tis", "monthsSinceClosed": 1}, "ast", "cafa", "normal"),
    ({"previousTeam": "ssf", "monthsSinceClosed": 1, "levelOfNeed": 2}, "tis", "early_help", "normal"),
    ({"openToTeam": "ast", "exploitationRisk": True, "section37Request": True}, "redirect_open_team", "none",
     "normal"),
    ({"policeProtection": True, "exploitationRisk": True, "section37Request": True}, "ast", "section47",
     "immediate"),
    ({"section37Request": True, "transferInConference": True, "exploitationRisk": True}, "ssf", "cafa", "normal"),
    ({"preBirth": True, "exploitationRisk": True, "levelOfNeed": 1}, "ast", "cafa", "normal"),
    ({"homeless16or17": True, "exploitationRisk": True}, "homeless_protocol", "cafa", "immediate"),
    ({"exploitationRisk": True, "previousTeam": "ssf", "monthsSinceClosed": 1}, "ast_awaken", "cafa", "normal"),
    ({"previousTeam": "soc", "monthsSinceClosed": 3, "complexNeeds": "clear"}, "previous_team", "cafa", "normal"),
    ({"complexNeeds": "clear", "levelOfNeed": 4}, "sccn", "cafa", "normal"),
], ids=["open-team-police-protection", "open-team", "police-protection-previous-team",
        "police-protection-not-known", "police-protection-known-long-ago", "section-37", "transfer-in-conference",
        "pre-birth-history", "pre-birth-over-12-weeks", "pre-birth-exactly-12-weeks", "homeless", "exploitation",
        "previous-team-6-months", "complex-clear", "complex-unclear-safeguarding", "complex-unclear-early-help",
        "level-4", "level-3", "safeguarding-below-threshold", "level-2-consent", "level-2-no-consent", "level-1",
        "complex-unclear-no-consent", "complex-unclear-no-consent-level-3", "previous-team-7-months", "previous-team-ast", "previous-team-tis",
        "previous-team-below-threshold", "open-team-first", "police-protection-before-court",
        "section-37-before-transfer-in", "pre-birth-before-exploitation", "homeless-before-exploitation",
        "exploitation-before-previous-team", "previous-team-before-complex-needs", "complex-clear-before-level"])
def test_blackpool_hub_route(change, route, assessment, priority):
    result = evaluate("blackpool_hub_route", **{**BLACKPOOL, **change})
    assert result == {"route": route, "assessment": assessment, "priority": priority}


def test_blackpool_refuses_an_unknown_team():
    with pytest.raises(NoAnswer, match="openToTeam"):
        evaluate("blackpool_hub_route", **{**BLACKPOOL, "openToTeam": "Awaken team"})


DURHAM = dict(requester="parent", consent=True, needs="multiple", safeguardingConcern=False, headlineOutcomes=2)


@pytest.mark.parametrize("change,route", [
    ({"safeguardingConcern": True, "needs": "none"}, "safeguarding"),
    ({"requester": "safeguarding_referral", "consent": False, "needs": "complex"}, "redirect"),
    ({"needs": "none"}, "resolve"),
    ({"needs": "complex", "requester": "professional", "headlineOutcomes": 1}, "ifst"),
    ({"needs": "single", "headlineOutcomes": 0}, "redirect"),
    ({"requester": "professional", "needs": "single", "headlineOutcomes": 2}, "locality_conversation"),
    ({"requester": "professional", "headlineOutcomes": None}, "locality_conversation"),
    ({"requester": "professional", "headlineOutcomes": 3}, "family_hub"),
    ({}, "family_hub"),
    ({"needs": "single", "headlineOutcomes": None}, "family_hub"),
    ({"requester": "safeguarding_referral"}, "family_hub"),
    # Precedence.
    ({"safeguardingConcern": True, "requester": "safeguarding_referral", "consent": False}, "safeguarding"),
    ({"requester": "professional", "consent": False, "needs": "none"}, "resolve"),
    ({"needs": "complex", "headlineOutcomes": 0}, "ifst"),
], ids=["safeguarding", "safeguarding-referral-without-consent", "no-needs", "complex", "no-headline-outcomes",
        "professional-fewer-than-3", "professional-not-counted", "professional-3-or-more", "parent",
        "parent-not-counted", "safeguarding-referral-with-consent", "safeguarding-first",
        "consent-only-matters-for-safeguarding-referrals", "complex-before-headline-count"])
def test_durham_triage_route(change, route):
    assert evaluate("durham_triage_route", **{**DURHAM, **change}) == {"route": route}


def test_blackpool_refuses_text_where_the_input_is_boolean():
    # "true" as text once fell through the consent rules and routed a level-1 contact to AST.
    with pytest.raises(NoAnswer, match="input 'Family consents to early help' \\(consent\\) is 'true' \\(text\\), "
                                       "but its type is boolean"):
        evaluate("blackpool_hub_route", **{**BLACKPOOL, "levelOfNeed": 1, "consent": "true"})
    with pytest.raises(NoAnswer, match="levelOfNeed\\) is '3' \\(text\\), but its type is number"):
        evaluate("blackpool_hub_route", **{**BLACKPOOL, "levelOfNeed": "3"})


def test_blackpool_absent_inputs():
    # Gestation only matters before birth: absent, it is null and the contact is routed.
    without_gestation = {k: v for k, v in BLACKPOOL.items() if k != "gestationWeeks"}
    assert evaluate("blackpool_hub_route", **without_gestation)["route"] == "ast"
    # Consent decides a level-2 contact (early help or advice): absent, the table refuses rather than guess.
    without_consent = {k: v for k, v in BLACKPOOL.items() if k != "consent"}
    with pytest.raises(NoAnswer, match="absent inputs consent: rule 20 \\(.*\\) could apply if they were given"):
        evaluate("blackpool_hub_route", **{**without_consent, "levelOfNeed": 2})
    # At level 1 every answer is advice, consent or not.
    assert evaluate("blackpool_hub_route", **{**without_consent, "levelOfNeed": 1})["route"] == "advice"


def test_a_decision_bound_to_the_latest_version_is_read_once_a_version_and_refused_when_none_is_deployed():
    from app.engine.decisions import DecisionEvaluator
    from app.engine.runtime import DecisionFailed

    source = (DMN / "nel_assessment_track.dmn").read_text()
    loaded = []

    def load_source(key, content_hash):
        loaded.append(content_hash)
        return content_hash, source

    evaluator = DecisionEvaluator(load_source, latest_hash=lambda key: "v1")
    inputs = {"complexity": "high", "concernsEscalating": False, "multipleAgencies": False}
    assert evaluator.evaluate("nel_assessment_track", None, inputs) == {"assessmentDays": 35}
    assert evaluator.evaluate("nel_assessment_track", None, inputs) == {"assessmentDays": 35}
    assert loaded == ["v1"]
    nothing = DecisionEvaluator(load_source=lambda key, content_hash: None, latest_hash=lambda key: None)
    with pytest.raises(DecisionFailed, match="any version of this decision is not deployed"):
        nothing.evaluate("nel_assessment_track", None, inputs)
