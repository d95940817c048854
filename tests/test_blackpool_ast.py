"""Blackpool's Assessment and Support Team through the API: the CAFA within 45 working days
with manager checkpoints at 10, 30 and 45, holding for up to 3 months, and each agreed
transfer point through its preconditions — workflows complete, transfer summary,
manager-to-manager notification, the receiving manager's agreement (disputes to the Service
Manager, then the Head of Service), transfer audit and letters — with the case register and
the receiving team's inbox following the child."""
from __future__ import annotations

import pytest
import steps
from steps import active, activities, complete, episodes, from_inbox, work

TM, SW = "blackpool.ast.tm", "blackpool.ast.sw"
RECEIVING = {"ssf": "blackpool.ssf.tm", "soc": "blackpool.soc.tm", "sccn": "blackpool.sccn.tm"}
END_OF = "T23:59:59+00:00"


def start(api):
    response = api.post("/process-definitions/blackpool_ast/start", {"businessKey": "AST-1", "variables": {
        "childId": "BA-1", "referralReceivedAt": "2026-11-30T10:00:00Z", "allocatedWorker": SW}})
    assert response.status_code == 201, response.json
    return response.json


def held_by(api):
    return steps.held_by(api, "BA-1")


def cafa(api, outcome):
    instance = start(api)
    assert api.post("/children", {"id": "BA-1"}).status_code == 201
    assert api.post("/children/BA-1/episodes", {"team": "ast", "status": "assessment",
                                                "startedAt": "2026-11-30T12:00:00Z"}).status_code == 201
    steps.recorded(api, "2026-12-20")  # recorded the day it was completed; the story's clock moves on
    return work(api, instance, "cafa", SW, cafaCompletedOn="2026-12-20", cafaSummary="Assessed",
                astOutcome=outcome)


def prepare(api, instance):
    instance = work(api, instance, "prepare_transfer", SW, workflowsComplete=True, chronologyUpToDate=True,
                    transferRationale="Transfer at the agreed point")
    return work(api, instance, "notify_receiving_manager", TM, receivingManagerNotifiedOn="2026-12-21")


def finish(api, instance):
    instance = work(api, instance, "transfer_audit", TM, transferAuditCompleted=True)
    return work(api, instance, "transfer_letters", SW, transferLettersSentOn="2026-12-22")


MIDNIGHT = "T00:00:00+00:00"  # a transfer date takes effect from its first moment (London = UTC in winter)
AGREED = dict(transferDecision="agreed", receivingWorker="Jo Bloggs", receivingWorkerContact="01253 111111",
              transferOn="2027-01-04")


def test_cafa_due_in_45_working_days_with_checkpoints_at_10_30_and_45(api, timers_run_due):
    instance = start(api)
    task = active(instance, "cafa")
    assert task["assignee"] == SW and task["due"] == "2027-02-04" + END_OF
    assert "1 fired" in timers_run_due("2026-12-15T00:00:00+00:00")  # day 10 ended on Mon 14 Dec
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert active(instance, "checkpoint_10")["candidateGroups"] == ["blackpool-ast-tm"]
    instance = work(api, instance, "checkpoint_10", TM, checkpoint10Notes="On track")
    assert "1 fired" in timers_run_due("2027-01-22T00:00:00+00:00")  # day 30
    instance = api.get(f"/process-instances/{instance['id']}").json
    instance = work(api, instance, "checkpoint_30", TM, checkpoint30Notes="Father not yet seen")
    # Completing the CAFA ends the checkpoints still to come.
    steps.recorded(api, "2027-01-25")
    instance = work(api, instance, "cafa", SW, cafaCompletedOn="2027-01-25", cafaSummary="Done", astOutcome="close")
    assert instance["timers"] == [] and activities(instance) == ["close_case"]


@pytest.mark.parametrize("outcome,step,step_user,step_fields,team,status", [
    ("transfer_ssf_icpc", "icpc", SW, {"icpcHeldOn": "2026-12-22"}, "ssf", "cp_plan"),
    ("care_proceedings", "first_hearing", SW, {"firstHearingOn": "2026-12-22", "placedAtHearing": False}, "soc",
     "child_in_care"),
    ("complex_needs", "sccn_discussion", TM, {"sccnDiscussionOn": "2026-12-21"}, "sccn", "support"),
    ("section20", "section20_review", SW, {"firstReviewOn": "2026-12-22"}, "soc", "child_in_care"),
])
def test_each_transfer_point(api, outcome, step, step_user, step_fields, team, status):
    instance = work(api, cafa(api, outcome), step, step_user, **step_fields)
    response = complete(api, instance, "prepare_transfer", SW, workflowsComplete=False, chronologyUpToDate=True,
                        transferRationale="x")
    assert response.json["error"]["details"] == {
        "workflowsComplete": ["Complete every workflow on the child's record before transfer"]}
    instance = prepare(api, instance)
    agree = active(instance, "agree_transfer")
    assert agree["candidateGroups"] == [f"blackpool-{team}-tm"]
    assert api.as_(TM).post(f"/tasks/{agree['id']}/complete", {"variables": {}}).status_code == 403
    instance = finish(api, work(api, instance, "agree_transfer", RECEIVING[team], **AGREED))
    # The register moves the child on the agreed date, not when the letters went: AST holds
    # them until then, and its episode ends as the receiving team's starts.
    assert episodes(api, "BA-1") == [("ast", "assessment", "2026-11-30T12:00:00+00:00", "2027-01-04" + MIDNIGHT),
                                     (team, status, "2027-01-04" + MIDNIGHT, None)]
    assert held_by(api) == [("ast", "assessment")]
    # The receiving team's manager has the next step in their inbox, due the day it takes effect.
    listed, instance = from_inbox(api, RECEIVING[team], "receiving_allocation", receivingAllocatedTo="Jo Bloggs",
                                  receivingAllocatedOn="2027-01-04")
    assert listed["candidateGroups"] == [f"blackpool-{team}-tm"] and listed["due"] == "2027-01-04" + END_OF
    assert instance["variables"]["outcome"] == "transferred" and instance["status"] == "completed"
    kinds = sorted(d["kind"] for d in api.get("/children/BA-1/documents").json)
    assert kinds == ["transfer_letter", "transfer_summary"]
    letter = [d for d in api.get("/children/BA-1/documents").json if d["kind"] == "transfer_letter"][0]
    html = api.client.get(letter["html"], headers=api._headers()).get_data(as_text=True)
    assert "Jo Bloggs" in html and "01253 111111" in html and "4 January 2027" in html


def test_a_dispute_goes_to_the_service_manager_then_the_head_of_service(api):
    instance = prepare(api, work(api, cafa(api, "section20"), "section20_review", SW, firstReviewOn="2026-12-22"))
    instance = work(api, instance, "agree_transfer", "blackpool.soc.tm", transferDecision="dispute")
    assert active(instance, "service_manager")["candidateGroups"] == ["blackpool-service-manager"]
    instance = work(api, instance, "service_manager", "blackpool.service.manager",
                    serviceManagerDecision="head_of_service")
    instance = work(api, instance, "head_of_service", "blackpool.head.of.service", headOfServiceDecision="transfer",
                    receivingWorker="Sam SOC", receivingWorkerContact="01253 222222", transferOn="2027-01-11")
    instance = finish(api, instance)
    assert episodes(api, "BA-1")[-1] == ("soc", "child_in_care", "2027-01-11" + MIDNIGHT, None)
    assert activities(instance) == ["receiving_allocation"]


def test_a_child_placed_at_the_first_hearing_transfers_at_the_first_looked_after_visit(api):
    instance = cafa(api, "care_proceedings")
    response = complete(api, instance, "first_hearing", SW, firstHearingOn="2026-12-21", placedAtHearing=True)
    assert response.json["error"]["details"] == {"placedOn": ["Enter the date the child was placed"]}
    steps.recorded(api, "2026-12-22")
    instance = work(api, instance, "first_hearing", SW, firstHearingOn="2026-12-21", placedAtHearing=True,
                    placedOn="2026-12-22")
    instance = finish(api, work(api, prepare(api, instance), "agree_transfer", "blackpool.soc.tm", **AGREED))
    # Until the visit AST stays responsible: the register has not moved the child.
    assert episodes(api, "BA-1") == [("ast", "assessment", "2026-11-30T12:00:00+00:00", None)]
    visit = active(instance, "first_looked_after_visit")
    # Within 5 days of the placement, counted as working days: Christmas and the Boxing Day substitute skipped.
    assert visit["candidateGroups"] == ["blackpool-soc-tm"] and visit["due"] == "2026-12-31" + END_OF
    steps.recorded(api, "2026-12-29")
    listed, instance = from_inbox(api, "blackpool.soc.tm", "first_looked_after_visit",
                                  lookedAfterVisitOn="2026-12-29", lookedAfterVisitBy="Jo Bloggs")
    assert listed["id"] == visit["id"] and instance["variables"]["outcome"] == "transferred"
    assert episodes(api, "BA-1") == [("ast", "assessment", "2026-11-30T12:00:00+00:00", "2026-12-29" + MIDNIGHT),
                                     ("soc", "child_in_care", "2026-12-29" + MIDNIGHT, None)]


def test_not_transferred_the_child_is_held_in_ast(api):
    instance = prepare(api, work(api, cafa(api, "complex_needs"), "sccn_discussion", TM,
                                 sccnDiscussionOn="2026-12-21"))
    instance = work(api, instance, "agree_transfer", "blackpool.sccn.tm", transferDecision="dispute")
    instance = work(api, instance, "service_manager", "blackpool.service.manager", serviceManagerDecision="stay")
    hold = active(instance, "hold")
    assert hold["assignee"] == SW and hold["due"] == "2027-03-20T00:00:00+00:00"  # 3 months from the CAFA
    assert held_by(api) == [("ast", "assessment")]


def test_hold_up_to_3_months_then_close(api):
    instance = cafa(api, "hold")
    instance = work(api, instance, "hold", SW, holdSummary="Routines established", astOutcome="close")
    instance = work(api, instance, "close_case", TM, closureRationale="Needs met")
    assert instance["variables"]["outcome"] == "closed" and held_by(api) == []


def test_a_cafa_or_placement_cannot_be_recorded_later_than_today(api):
    # The 3 months' hold counts from the CAFA and the first Looked After visit from the placement.
    instance = start(api)
    response = complete(api, instance, "cafa", SW, cafaCompletedOn="2026-12-02", cafaSummary="Assessed",
                        astOutcome="care_proceedings")
    assert response.json["error"]["details"] == {
        "cafaCompletedOn": ["Date the CAFA was completed must be today or in the past"]}
    instance = work(api, instance, "cafa", SW, cafaCompletedOn="2026-12-01", cafaSummary="Assessed",
                    astOutcome="care_proceedings")
    response = complete(api, instance, "first_hearing", SW, firstHearingOn="2026-12-01", placedAtHearing=True,
                        placedOn="2026-12-02")
    assert response.json["error"]["details"] == {"placedOn": ["Date the child was placed must be today or in the past"]}
