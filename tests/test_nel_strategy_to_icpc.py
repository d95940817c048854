"""North East Lincolnshire strategy discussion to ICPC, worked through the API by a user of
each lane: started from nel_section17 (a call activity) or on its own, to every end the
document's "Strategy discussion request from IFD" section names, with its 24-hour and
15-working-day timescales and the Team Manager's ICPC tracking escalation fired by
`pathways timers run-due --as-of`.

The suite's engine clock is Tue 1 Dec 2026 09:00 UTC (tests/conftest.py).
"""
from __future__ import annotations

import pytest
from conftest import ROOT
from steps import active, complete, on, work

TM, DDM, ATM, SW1, SW2 = "nel.ai.tm", "nel.police.ddm", "nel.ai.atm", "nel.ai.sw1", "nel.ai.sw2"
IRO, COURT_TM, COURT_SW = "nel.cp.iro", "nel.court.tm", "nel.court.sw"
MEETING = "2026-12-17T10:00:00Z"  # Thu 17 Dec 2026: the 15 working days run over Christmas


def start(api, key="nel_strategy_to_icpc", business_key="REF-S1", **extra):
    variables = {"childId": "C-9", "referralId": business_key, "referralReceivedAt": "2026-12-01T08:30:00Z", **extra}
    response = api.post(f"/process-definitions/{key}/start", {"businessKey": business_key, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def agree_threshold(api, instance, user=TM, decision="met"):
    extra = {"strategyDiscussionAt": "2026-12-01T15:00:00Z"} if decision == "met" else {}
    return work(api, instance, "threshold_conversation", user, policeDdm="DI Shaw", thresholdDecision=decision,
                thresholdRationale="Injury to a non-mobile baby", **extra)


ATTENDED = dict(attendedChildrensSocialCare=True, attendedPolice=True, attendedHealth=True)


def hold_meeting(api, instance, section47="met", held=MEETING):
    instance = work(api, instance, "allocate_social_worker", ATM, allocatedSocialWorker=SW1)
    plan = {"section47Plan": "See the child and siblings; medical"} if section47 == "met" else {}
    on(api, held)  # recorded once it has happened
    return work(api, instance, "strategy_meeting", TM, meetingHeldAt=held, worriesDiscussed="Bruising",
                section47Decision=section47, **ATTENDED, **plan)


def through_supervision(api, instance, next_step="icpc"):
    instance = work(api, instance, "record_minutes", TM, minutes="Minutes of the strategy discussion")
    on(api, "2026-12-18T16:00:00Z")  # recorded once it has happened
    instance = work(api, instance, "section47_enquiry", SW1, enquiryCompletedAt="2026-12-18T16:00:00Z")
    instance = work(api, instance, "record_findings", SW1, findings="Non-accidental injury likely",
                    concerns="substantiated")
    on(api, "2026-12-19T11:00:00Z")  # recorded once it has happened
    return work(api, instance, "findings_supervision", ATM, supervisionHeldAt="2026-12-19T11:00:00Z",
                casePlan="Initial child protection conference", nextStep=next_step)


def to_icpc(api, instance):
    on(api, "2026-12-19T12:05:00Z")  # recorded once it has happened
    instance = work(api, instance, "notify_iro_and_tm", ATM, iroNotified="Duty IRO (Lee)",
                    iroNotifiedAt="2026-12-19T12:00:00Z", teamManagerNotifiedAt="2026-12-19T12:05:00Z")
    instance = work(api, instance, "set_icpc_date", IRO, icpcChair="Lee", icpcDate="2027-01-11")
    instance = work(api, instance, "request_court_cp_social_worker", TM, courtCpRequestNotes="Asked on 21 Dec")
    return work(api, instance, "identify_court_cp_social_worker", COURT_TM, courtCpSocialWorker=COURT_SW)


def test_recommended_by_the_ifd_starts_with_the_tm_and_police_ddm(api):
    instance = start(api, "nel_section17", strategyDiscussionRecommended=True)
    conversation = active(instance, "threshold_conversation")
    assert conversation["candidateGroups"] == ["nel-ai-tm", "nel-police-ddm"]
    assert api.as_(SW1).post(f"/tasks/{conversation['id']}/complete", {"variables": {}}).status_code == 403
    # Either party records what they agreed.
    instance = agree_threshold(api, instance, user=DDM)
    assert active(instance, "allocate_social_worker")["due"] == "2026-12-01T15:00:00+00:00"


def test_threshold_not_met_continues_as_a_section_17_referral(api):
    # Received on Friday 27 November; the threshold conversation is held on Tuesday 1 December.
    instance = agree_threshold(api, start(api, "nel_section17", strategyDiscussionRecommended=True,
                                          referralReceivedAt="2026-11-27T16:00:00Z"),
                               decision="not_met_section17")
    review = active(instance, "duty_atm_review")
    assert review["candidateGroups"] == ["nel-ai-atm"]
    assert instance["status"] == "active"
    # Back in the tray: due the day it came back, not already overdue from the day it first arrived.
    assert review["due"] == "2026-12-01T23:59:59+00:00"


def test_threshold_not_met_no_further_action(api):
    instance = agree_threshold(api, start(api, "nel_section17", strategyDiscussionRecommended=True),
                               decision="not_met_no_further_action")
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == "no_further_action"


def test_a_met_threshold_needs_the_time_of_the_strategy_discussion(api):
    instance = start(api)
    response = complete(api, instance, "threshold_conversation", TM, policeDdm="DI Shaw", thresholdDecision="met",
                        thresholdRationale="Disclosure at school")
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "strategyDiscussionAt": ["Enter the time set for the strategy discussion"]}


def test_the_strategy_meeting_is_due_within_24_hours_and_needs_csc_police_and_health(api):
    instance = work(api, agree_threshold(api, start(api)), "allocate_social_worker", ATM,
                    allocatedSocialWorker=SW1)
    meeting = active(instance, "strategy_meeting")
    assert meeting["due"] == "2026-12-02T09:00:00+00:00"  # 24 hours after the threshold was agreed
    # On Tue 1 Dec a meeting on the 17th has not been held: a time mistyped into the future would
    # move the ICPC's 15 working days and the TM's tracking escalation as far.
    early = complete(api, instance, "strategy_meeting", TM, meetingHeldAt=MEETING, worriesDiscussed="Bruising",
                     section47Decision="not_met", **ATTENDED)
    assert early.status_code == 422 and early.json["error"]["details"] == {
        "meetingHeldAt": ["Date and time the strategy meeting was held must be today or in the past"]}
    on(api, MEETING)  # recorded once it has happened
    response = complete(api, instance, "strategy_meeting", TM, meetingHeldAt=MEETING, worriesDiscussed="Bruising",
                        section47Decision="met", attendedChildrensSocialCare=True, attendedPolice=False)
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "attendedPolice": ["The police must attend the strategy meeting"],
        "attendedHealth": ["Health must attend the strategy meeting"],
        "section47Plan": ["Enter what the social worker must do and cover in the section 47 enquiry"],
    }


def test_every_time_something_happened_is_refused_in_the_future():
    # The meeting's refusal is worked above; here, that every such field of the diagram says so.
    from lxml import etree

    from app.engine.parser import NS, form_fields

    root = etree.parse(str(ROOT / "bpmn" / "nel_strategy_to_icpc.bpmn")).getroot()
    flagged = {f["id"] for task in root.iterfind(".//bpmn:userTask", NS) for f in form_fields(task)
               if f["properties"].get("notAfterToday") == "true"}
    assert flagged == {"meetingHeldAt", "enquiryCompletedAt", "supervisionHeldAt", "iroNotifiedAt",
                       "teamManagerNotifiedAt", "icpcHeldOn"}


def test_section_47_to_icpc_with_a_child_protection_plan(api):
    instance = hold_meeting(api, agree_threshold(api, start(api)))
    assert active(instance, "record_minutes")["due"] == "2026-12-18T10:00:00+00:00"
    enquiry = active(instance, "section47_enquiry")
    assert enquiry["assignee"] == SW1
    assert complete(api, instance, "section47_enquiry", SW2, enquiryCompletedAt=MEETING).status_code == 403
    on(api, "2026-12-18T16:00:00Z")  # recorded once it has happened
    instance = work(api, instance, "section47_enquiry", SW1, enquiryCompletedAt="2026-12-18T16:00:00Z")
    assert active(instance, "record_findings")["due"] == "2026-12-19T16:00:00+00:00"
    instance = work(api, instance, "record_findings", SW1, findings="Non-accidental injury likely",
                    concerns="substantiated")
    assert active(instance, "findings_supervision")["due"] == "2026-12-19T16:00:00+00:00"
    on(api, "2026-12-19T11:00:00Z")  # recorded once it has happened
    instance = work(api, instance, "findings_supervision", ATM, supervisionHeldAt="2026-12-19T11:00:00Z",
                    casePlan="ICPC", nextStep="icpc")
    assert active(instance, "notify_iro_and_tm")["due"] == "2026-12-20T11:00:00+00:00"
    instance = to_icpc(api, instance)
    handover = active(instance, "icpc_handover")
    assert handover["assignee"] == COURT_SW and handover["candidateGroups"] == ["nel-court-cp-sw"]
    on(api, "2027-01-11T15:00:00Z")  # recorded once it has happened
    response = complete(api, instance, "icpc_handover", COURT_SW, icpcHeldOn="2027-01-11", handoverComplete=False,
                        icpcOutcome="child_protection_plan")
    assert response.json["error"]["details"] == {
        "handoverComplete": ["The full case handover must be completed at the ICPC"]}
    instance = work(api, instance, "icpc_handover", COURT_SW, icpcHeldOn="2027-01-11", handoverComplete=True,
                    icpcOutcome="child_protection_plan")
    # The minutes are still outstanding: the case stays open until they are recorded.
    assert instance["status"] == "active"
    instance = work(api, instance, "record_minutes", TM, minutes="Minutes")
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == "child_protection_plan"


def test_icpc_deadline_spans_christmas_and_new_year(api):
    instance = to_icpc(api, through_supervision(api, hold_meeting(api, agree_threshold(api, start(api)))))
    # 15 working days after Thu 17 Dec 2026: Christmas Day, the Boxing Day substitute (Mon 28)
    # and New Year's Day are not counted.
    assert active(instance, "icpc_handover")["due"] == "2027-01-12T23:59:59+00:00"
    timer = next(t for t in instance["timers"] if t["activityId"] == "icpc_overdue")
    assert timer["dueAt"] == "2027-01-12T23:59:59+00:00"


def test_tm_tracking_escalates_an_icpc_not_held_in_time(api, timers_run_due):
    instance = to_icpc(api, through_supervision(api, hold_meeting(api, agree_threshold(api, start(api)))))
    assert "nothing due" in timers_run_due("2027-01-12T23:59:58+00:00")
    assert "1 fired" in timers_run_due("2027-01-13T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    escalation = active(instance, "icpc_overdue_escalation")
    assert escalation["candidateGroups"] == ["nel-ai-tm"]
    active(instance, "icpc_handover")  # the ICPC work carries on
    instance = work(api, instance, "icpc_overdue_escalation", TM, icpcEscalation="Agreed a date with CP&P")
    on(api, "2027-01-14T15:00:00Z")  # recorded once it has happened
    instance = work(api, instance, "icpc_handover", COURT_SW, icpcHeldOn="2027-01-14", handoverComplete=True,
                    icpcOutcome="no_plan")
    assert instance["variables"]["outcome"] == "icpc_no_plan"


def test_icpc_held_in_time_cancels_the_escalation(api, timers_run_due):
    instance = to_icpc(api, through_supervision(api, hold_meeting(api, agree_threshold(api, start(api)))))
    on(api, "2027-01-11T15:00:00Z")  # recorded once it has happened
    instance = work(api, instance, "icpc_handover", COURT_SW, icpcHeldOn="2027-01-11", handoverComplete=True,
                    icpcOutcome="no_plan")
    assert [t for t in instance["timers"] if t["activityId"] == "icpc_overdue"] == []
    assert "nothing due" in timers_run_due("2027-01-14T00:00:00+00:00")


@pytest.mark.parametrize("next_step", ["child_in_need", "no_further_action"])
def test_supervision_without_escalation_ends_there(api, next_step):
    instance = through_supervision(api, hold_meeting(api, agree_threshold(api, start(api))), next_step)
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == next_step


def test_section_47_threshold_not_met(api):
    instance = hold_meeting(api, agree_threshold(api, start(api)), section47="not_met")
    assert [t["activityId"] for t in instance["activeTasks"]] == ["record_minutes"]
    instance = work(api, instance, "record_minutes", TM, minutes="Minutes")
    assert instance["variables"]["outcome"] == "section47_threshold_not_met"


def _assessed_to_strategy(api):
    instance = start(api, "nel_section17", strategyDiscussionRecommended=False)
    instance = work(api, instance, "duty_atm_review", ATM, reviewDecision="accept")
    instance = work(api, instance, "allocation_discussion", ATM, allocatedWorker=SW1, visitPlan="Visit",
                    managementCaseNoteRecorded=True)
    # All on the suite's day (Tue 1 Dec 2026): a visit or an assessment cannot be recorded before it happens.
    instance = work(api, instance, "initial_visit", SW1, visitDate="2026-12-01", childSeen=True)
    instance = work(api, instance, "formal_supervision", ATM, complexity="high", concernsEscalating=True,
                    multipleAgencies=True, assessmentFocus="Physical abuse")
    instance = work(api, instance, "single_assessment", SW1, assessmentCompletedOn="2026-12-01",
                    recommendedOutcome="strategy_discussion", assessmentSummary="Concerns escalating")
    return work(api, instance, "agree_assessment_outcome", ATM, assessmentOutcome="strategy_discussion",
                outcomeRationale="Concerns need escalation")


def test_an_assessment_ending_in_a_strategy_discussion_runs_the_pathway(api):
    instance = _assessed_to_strategy(api)
    assert instance["definitionKey"] == "nel_section17"
    instance = to_icpc(api, through_supervision(api, hold_meeting(api, agree_threshold(api, instance))))
    on(api, "2027-01-11T15:00:00Z")  # recorded once it has happened
    instance = work(api, instance, "icpc_handover", COURT_SW, icpcHeldOn="2027-01-11", handoverComplete=True,
                    icpcOutcome="child_protection_plan")
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == "child_protection_plan"


def test_after_an_assessment_a_threshold_not_met_goes_back_to_the_atm(api):
    instance = agree_threshold(api, _assessed_to_strategy(api), decision="not_met_section17")
    reconsider = active(instance, "reconsider_outcome")
    assert reconsider["candidateGroups"] == ["nel-ai-atm"]
    options = [o["id"] for o in api.as_(ATM).get(f"/tasks/{reconsider['id']}").json["formFields"][0]["options"]]
    assert "strategy_discussion" not in options
    instance = work(api, instance, "reconsider_outcome", ATM, assessmentOutcome="short_cin_package",
                    outcomeRationale="Short package of work at CIN")
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == "short_cin_package"
