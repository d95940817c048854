"""North East Lincolnshire Section 17 allocation and assessment, worked through the API by
a user of each lane to every end the document names, with working-day due dates.

The suite's engine clock is Tue 1 Dec 2026 09:00 UTC (tests/conftest.py), so deadlines that
count from a completed step count from then.
"""
from __future__ import annotations

import pytest
from steps import active, activities, complete, from_inbox, held_by, on, recorded, work

IFD, ATM, TM, SW1, SW2 = "nel.ifd.atm", "nel.ai.atm", "nel.ai.tm", "nel.ai.sw1", "nel.ai.sw2"
RECEIVED = "2026-12-01T08:15:00Z"  # Tue 1 Dec 2026, 45 minutes before the suite's clock


def start(api, received=RECEIVED, strategy=False, business_key="REF-1"):
    response = api.post("/process-definitions/nel_section17/start", {
        "businessKey": business_key,
        "variables": {"childId": "C-1", "referralId": business_key, "referralReceivedAt": received,
                      "strategyDiscussionRecommended": strategy},
    })
    assert response.status_code == 201, response.json
    return response.json


def allocate(api, instance, worker=SW1):
    instance = work(api, instance, "duty_atm_review", ATM, reviewDecision="accept")
    return work(api, instance, "allocation_discussion", ATM, allocatedWorker=worker,
                visitPlan="Joint visit with health visitor", managementCaseNoteRecorded=True)


def assess(api, instance, complexity="low", escalating=False, agencies=False, visit="2026-12-22"):
    recorded(api, visit)  # recorded the evening of the visit
    instance = work(api, instance, "initial_visit", SW1, visitDate=visit, childSeen=True)
    return work(api, instance, "formal_supervision", ATM, complexity=complexity,
                concernsEscalating=escalating, multipleAgencies=agencies, assessmentFocus="Neglect")


# A transfer to the CIN team: support needed beyond 12 weeks, with a clear plan (cin_team_entry).
TRANSFER = dict(expectedSupportWeeks=26, clearPlanWithOutcomes=True, edgeOfCare=False)


def assessment_done(api, instance, recommended, summary="Needs met by universal services",
                    completed_on="2027-01-06"):
    """The social worker records the assessment the evening it was completed."""
    recorded(api, completed_on)
    return work(api, instance, "single_assessment", SW1, assessmentCompletedOn=completed_on,
                recommendedOutcome=recommended, assessmentSummary=summary)


def awaiting_outcome(api, recommended, summary="Needs met by universal services"):
    """A new referral worked to the ATM agreeing its outcome, the social worker recommending
    ``recommended``."""
    return assessment_done(api, assess(api, allocate(api, start(api))), recommended, summary)


def finish(api, instance, outcome, completed_on="2027-01-06", **answers):
    instance = assessment_done(api, instance, outcome, completed_on=completed_on)
    if outcome == "transfer_cin_team":
        answers = {**TRANSFER, **answers}
    return work(api, instance, "agree_assessment_outcome", ATM, assessmentOutcome=outcome,
                outcomeRationale="Agreed in supervision", **answers)


def timer(instance, activity_id):
    matches = [t for t in instance["timers"] if t["activityId"] == activity_id]
    assert len(matches) == 1, instance["timers"]
    return matches[0]


def test_strategy_discussion_recommended_goes_to_the_strategy_pathway(api):
    # nel_strategy_to_icpc runs as a call activity (tests/test_nel_strategy_to_icpc.py).
    instance = start(api, strategy=True)
    assert instance["status"] == "active"
    assert [t["activityId"] for t in instance["activeTasks"]] == ["threshold_conversation"]


@pytest.mark.parametrize("received,due", [
    ("2026-12-23T10:15:00Z", "2026-12-23T23:59:59+00:00"),  # a working day: the same day
    ("2026-12-25T10:00:00Z", "2026-12-29T23:59:59+00:00"),  # Christmas Day: next working day after the holidays
    ("2026-12-19T11:00:00Z", "2026-12-21T23:59:59+00:00"),  # a Saturday: Monday
    ("2027-06-30T23:30:00Z", "2027-07-01T23:59:59+01:00"),  # already 1 July in London (BST)
])
def test_duty_atm_reviews_the_tray_the_same_working_day(api, received, due):
    on(api, received)  # the referral comes into the tray now
    instance = start(api, received=received)
    review = active(instance, "duty_atm_review")
    assert review["candidateGroups"] == ["nel-ai-atm"]
    assert api.as_(ATM).get(f"/tasks/{review['id']}").json["due"] in (due, _utc(due))
    assert {f["id"] for f in review["formFields"]} == {"reviewDecision", "reviewNotes"}


def _utc(iso: str) -> str:
    from datetime import datetime, timezone
    return datetime.fromisoformat(iso).astimezone(timezone.utc).isoformat()


def test_happy_path_low_complexity_ten_day_track_to_close(api):
    instance = allocate(api, start(api))
    # The case is open to A&I from acceptance; 12 weeks count from the referral (84 days).
    assert timer(instance, "twelve_week_limit")["dueAt"] == "2027-02-23T08:15:00+00:00"

    visit = active(instance, "initial_visit")
    # Allocation recorded Tue 1 Dec 2026: visit within 3 working days is Fri 4 Dec.
    assert visit["due"] == "2026-12-04T23:59:59+00:00"
    assert visit["assignee"] == SW1 and visit["candidateGroups"] == ["nel-ai-sw"]
    assert timer(instance, "initial_visit_overdue")["dueAt"] == "2026-12-04T23:59:59+00:00"
    # Another social worker in the group cannot do the allocated worker's visit.
    other = api.as_(SW2).post(f"/tasks/{visit['id']}/complete",
                              {"variables": {"visitDate": "2026-12-03", "childSeen": True}})
    assert other.status_code == 403

    recorded(api, "2026-12-22")  # recorded the evening of the visit
    instance = work(api, instance, "initial_visit", SW1, visitDate="2026-12-22", childSeen=True)
    supervision = active(instance, "formal_supervision")
    # Visit Tue 22 Dec: 5 working days skip Christmas Day and the substitute Boxing Day (Mon 28).
    assert supervision["due"] == "2026-12-31T23:59:59+00:00"
    assert supervision["candidateGroups"] == ["nel-ai-atm"]
    assert timer(instance, "supervision_overdue")["dueAt"] == "2026-12-31T23:59:59+00:00"
    assert "initial_visit_overdue" not in [t["activityId"] for t in instance["timers"]]

    instance = work(api, instance, "formal_supervision", ATM, complexity="low", concernsEscalating=False,
                    multipleAgencies=False, assessmentFocus="Parenting capacity")
    assert instance["variables"]["assessmentDays"] == 10
    assessment = active(instance, "single_assessment")
    # 10 working days from the visit, New Year's Day skipped: Fri 8 Jan 2027.
    assert assessment["due"] == "2027-01-08T23:59:59+00:00"
    assert assessment["assignee"] == SW1
    assert timer(instance, "assessment_overdue")["dueAt"] == "2027-01-08T23:59:59+00:00"

    instance = finish(api, instance, "close")
    assert instance["status"] == "completed" and instance["endedAt"]
    assert instance["variables"]["outcome"] == "close"
    assert instance["activeTasks"] == [] and instance["timers"] == []

    history = api.get(f"/process-instances/{instance['id']}/history").json
    done = [(e["activityId"], e["user"]) for e in history if e["type"] == "task_completed"]
    assert done == [("duty_atm_review", ATM), ("allocation_discussion", ATM), ("initial_visit", SW1),
                    ("formal_supervision", ATM), ("single_assessment", SW1), ("agree_assessment_outcome", ATM)]
    decision = next(e for e in history if e["type"] == "decision_evaluated")
    assert decision["activityId"] == "decide_assessment_track"
    assert decision["details"]["outputs"] == {"assessmentDays": 10}
    assert history[-1]["type"] == "instance_completed" and history[-1]["details"]["outcome"] == "close"
    cancelled = {e["activityId"] for e in history if e["type"] == "timer_cancelled"}
    assert {"initial_visit_overdue", "supervision_overdue", "assessment_overdue", "twelve_week_limit"} <= cancelled


def test_each_timescale_missed_raises_a_task_for_its_manager_and_the_case_goes_on(api, timers_run_due):
    # Each overdue timer fires when its due time has passed (`pathways timers run-due`), puts a
    # follow-up in the named manager's tray, and leaves the step it watches where it was.
    instance = allocate(api, start(api))

    def fired(as_of, follow_up, group):
        assert "1 fired" in timers_run_due(as_of)
        shown = api.get(f"/process-instances/{instance['id']}").json
        task = active(shown, follow_up)
        assert task["candidateGroups"] == [group]
        return shown

    # The visit was due by the end of Fri 4 Dec; the ATM follows it up.
    assert "nothing due" in timers_run_due("2026-12-04T23:59:58+00:00")
    instance = fired("2026-12-05T00:00:00+00:00", "visit_overdue_followup", "nel-ai-atm")
    active(instance, "initial_visit")
    # Due when the visit was: overdue from the moment it is raised, so it tops the ATM's tray.
    assert active(instance, "visit_overdue_followup")["due"] == "2026-12-04T23:59:59+00:00"
    on(api, "2026-12-07T09:00:00Z")
    instance = work(api, instance, "visit_overdue_followup", ATM, followUpNotes="Visit booked for 22 Dec")

    # Supervision was due by the end of Thu 31 Dec (5 working days after the 22 Dec visit); the TM.
    recorded(api, "2026-12-22")
    instance = work(api, instance, "initial_visit", SW1, visitDate="2026-12-22", childSeen=True)
    instance = fired("2027-01-01T00:00:00+00:00", "supervision_overdue_followup", "nel-ai-tm")
    on(api, "2027-01-04T09:00:00Z")
    instance = work(api, instance, "supervision_overdue_followup", TM, supervisionFollowUpNotes="Held today")

    # The 10-day assessment was due by the end of Fri 8 Jan; the ATM.
    instance = work(api, instance, "formal_supervision", ATM, complexity="low", concernsEscalating=False,
                    multipleAgencies=False, assessmentFocus="Neglect")
    instance = fired("2027-01-09T00:00:00+00:00", "assessment_overdue_followup", "nel-ai-atm")
    on(api, "2027-01-11T09:00:00Z")
    instance = work(api, instance, "assessment_overdue_followup", ATM,
                    assessmentFollowUpNotes="Due 15 Jan, agreed with the worker")

    # 12 weeks after the referral (Tue 1 Dec 08:15): the ATM and then the TM decide whether the
    # case stays open, while the assessment carries on.
    assert "nothing due" in timers_run_due("2027-02-23T08:14:59+00:00")
    instance = fired("2027-02-23T08:15:00+00:00", "atm_agree_extension", "nel-ai-atm")
    active(instance, "single_assessment")
    on(api, "2027-02-23T14:00:00Z")
    instance = work(api, instance, "atm_agree_extension", ATM, extensionAgreed=True,
                    extensionReason="Assessment nearly complete")
    assert active(instance, "tm_agree_extension")["candidateGroups"] == ["nel-ai-tm"]
    # Agreed by both until Fri 16 Apr 2027: then the question comes back to the ATM.
    instance = work(api, instance, "tm_agree_extension", TM, tmExtensionAgreed=True,
                    tmExtensionReason="Agreed in supervision", openUntil="2027-04-16")
    assert activities(instance) == ["single_assessment"]
    # The end of Fri 16 Apr in London (BST), in UTC.
    assert timer(instance, "extension_review_due")["dueAt"] == "2027-04-16T22:59:59+00:00"
    assert "nothing due" in timers_run_due("2027-04-16T22:59:58+00:00")
    instance = fired("2027-04-16T23:00:00+00:00", "atm_agree_extension", "nel-ai-atm")
    # Not agreed this time: the ATM is asked to bring the case to its outcome; the TM is not asked.
    on(api, "2027-04-19T09:00:00Z")
    instance = work(api, instance, "atm_agree_extension", ATM, extensionAgreed=False,
                    extensionReason="Assessment written; no reason to stay open")
    assert activities(instance) == ["bring_case_to_outcome", "single_assessment"]
    assert active(instance, "bring_case_to_outcome")["candidateGroups"] == ["nel-ai-atm"]
    instance = work(api, instance, "bring_case_to_outcome", ATM, closurePlan="Outcome agreed by 23 April")
    assert activities(instance) == ["single_assessment"] and instance["timers"] == []

    instance = finish(api, instance, "close", completed_on="2027-04-20")
    assert instance["status"] == "completed" and instance["variables"]["outcome"] == "close"
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert [e["activityId"] for e in history if e["type"] == "timer_fired"] == [
        "initial_visit_overdue", "supervision_overdue", "assessment_overdue", "twelve_week_limit",
        "extension_review_due"]
    done = [(e["activityId"], e["user"]) for e in history if e["type"] == "task_completed"]
    assert done == [("duty_atm_review", ATM), ("allocation_discussion", ATM), ("visit_overdue_followup", ATM),
                    ("initial_visit", SW1), ("supervision_overdue_followup", TM), ("formal_supervision", ATM),
                    ("assessment_overdue_followup", ATM), ("atm_agree_extension", ATM),
                    ("tm_agree_extension", TM), ("atm_agree_extension", ATM), ("bring_case_to_outcome", ATM),
                    ("single_assessment", SW1), ("agree_assessment_outcome", ATM)]


def test_a_case_stays_open_beyond_12_weeks_only_with_a_date_both_managers_agree(api, timers_run_due):
    instance = assess(api, allocate(api, start(api)))
    timers_run_due("2027-02-23T08:15:00+00:00")  # 12 weeks after the referral
    instance = api.get(f"/process-instances/{instance['id']}").json
    on(api, "2027-02-23T14:00:00Z")  # Tue 23 Feb 2027
    instance = work(api, instance, "atm_agree_extension", ATM, extensionAgreed=True, extensionReason="Court date")
    # Agreeing needs the date it is agreed until, a later working day; not agreeing does not.
    missing = complete(api, instance, "tm_agree_extension", TM, tmExtensionAgreed=True)
    assert missing.status_code == 422
    assert missing.json["error"]["details"] == {
        "openUntil": ["Enter the date until which the case is agreed to stay open"]}
    today = complete(api, instance, "tm_agree_extension", TM, tmExtensionAgreed=True, openUntil="2027-02-23")
    assert today.status_code == 422
    assert today.json["error"]["details"] == {
        "openUntil": ["Agreed to stay open until must be the same as or after 24 February 2027"]}
    instance = work(api, instance, "tm_agree_extension", TM, tmExtensionAgreed=False,
                    tmExtensionReason="The assessment is done; agree the outcome")
    assert "bring_case_to_outcome" in activities(instance)
    assert "extension_review_due" not in [t["activityId"] for t in instance["timers"]]


@pytest.mark.parametrize("completed_on,message", [
    ("2026-12-21", "Date the assessment was completed must be the same as or after 22 December 2026"),
    ("2026-12-23", "Date the assessment was completed must be today or in the past"),
])
def test_an_assessment_is_completed_after_the_visit_and_by_the_day_it_is_recorded(api, completed_on, message):
    instance = assess(api, allocate(api, start(api)))  # the visit on Tue 22 Dec, recorded that evening
    response = complete(api, instance, "single_assessment", SW1, assessmentCompletedOn=completed_on,
                        recommendedOutcome="close", assessmentSummary="Needs met")
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"assessmentCompletedOn": [message]}
    # Nothing was lost: the assessment is still there to complete.
    assert activities(api.get(f"/process-instances/{instance['id']}").json) == ["single_assessment"]


@pytest.mark.parametrize("complexity,escalating,agencies,days,due", [
    ("high", False, False, 35, "2027-02-12T23:59:59+00:00"),
    ("low", True, False, 35, "2027-02-12T23:59:59+00:00"),
    ("low", False, True, 35, "2027-02-12T23:59:59+00:00"),
    ("low", False, False, 10, "2027-01-08T23:59:59+00:00"),
])
def test_supervision_decides_the_track(api, complexity, escalating, agencies, days, due):
    instance = assess(api, allocate(api, start(api)), complexity, escalating, agencies)
    assert instance["variables"]["assessmentDays"] == days
    assert active(instance, "single_assessment")["due"] == due


@pytest.mark.parametrize("outcome", [
    "close", "step_down_early_help", "short_cin_package", "transfer_cin_team",
])
def test_every_assessment_outcome_ends_the_pathway_there(api, outcome):
    instance = finish(api, assess(api, allocate(api, start(api))), outcome)
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == outcome
    assert instance["variables"]["assessmentOutcome"] == outcome


def test_a_transfer_to_the_cin_team_goes_on_in_the_cin_teams_pathway(api):
    instance = finish(api, assess(api, allocate(api, start(api))), "transfer_cin_team")
    assert (instance["status"], instance["variables"]["outcome"]) == ("completed", "transfer_cin_team")
    history = api.get(f"/process-instances/{instance['id']}/history").json
    decision = next(e for e in history if e["activityId"] == "cin_entry_decision")
    assert decision["details"]["outputs"] == {"decision": "transfer_to_cin"}
    handed = [e for e in history if e["type"] == "handed_over"]
    assert [(e["user"], e["details"]["definitionKey"]) for e in handed] == [(ATM, "cin_team")]
    assert history[-1]["type"] == "handed_over"  # after the A&I case ended, in the same action

    # The CIN team's case: same business key, started by the ATM who agreed the transfer,
    # its first step (allocation) in the CIN Team Manager's tray.
    cin = api.get(f"/process-instances/{handed[0]['details']['processInstanceId']}").json
    assert (cin["definitionKey"], cin["businessKey"], cin["status"]) == ("cin_team", "REF-1", "active")
    assert {k: cin["variables"][k] for k in ("childId", "source", "expectedSupportWeeks", "clearPlanWithOutcomes")} \
        == {"childId": "C-1", "source": "a_and_i", "expectedSupportWeeks": 26, "clearPlanWithOutcomes": True}
    started = api.get(f"/process-instances/{cin['id']}/history").json[0]
    assert (started["type"], started["user"], started["details"]["handedOverFrom"]) == \
        ("instance_started", ATM, instance["id"])
    assert sorted(i["definitionKey"] for i in api.get("/process-instances", businessKey="REF-1").json) \
        == ["cin_team", "nel_section17"]
    task, cin = from_inbox(api, "cin.tm", "allocate", cinSocialWorker="cin.sw")
    assert task["candidateGroups"] == ["cin-tm"]
    assert held_by(api, "C-1") == [("cin", "cin_plan")]


@pytest.mark.parametrize("answers,why", [
    (dict(expectedSupportWeeks=8), "12 weeks or less stays with the current worker"),
    (dict(edgeOfCare=True), "Edge of Care stays with the current worker"),
    (dict(clearPlanWithOutcomes=False), "no clear plan yet"),
])
def test_a_transfer_the_cin_teams_criteria_refuse_comes_back_to_the_atm(api, answers, why):
    instance = finish(api, assess(api, allocate(api, start(api))), "transfer_cin_team", **answers)
    assert instance["status"] == "active", why
    reconsider = active(instance, "reconsider_outcome")
    assert reconsider["candidateGroups"] == ["nel-ai-atm"]
    assert [i["definitionKey"] for i in api.get("/process-instances", businessKey="REF-1").json] == ["nel_section17"]
    if answers.get("clearPlanWithOutcomes") is False:
        # With a plan made, the transfer goes ahead.
        instance = work(api, instance, "reconsider_outcome", ATM, assessmentOutcome="transfer_cin_team",
                        outcomeRationale="Plan agreed with the family", **TRANSFER)
        assert instance["variables"]["outcome"] == "transfer_cin_team"
        assert sorted(i["definitionKey"] for i in api.get("/process-instances", businessKey="REF-1").json) \
            == ["cin_team", "nel_section17"]
    else:
        instance = work(api, instance, "reconsider_outcome", ATM, assessmentOutcome="short_cin_package",
                        outcomeRationale="Short package of work with the current worker")
        assert instance["variables"]["outcome"] == "short_cin_package"


def test_a_transfer_asks_what_the_cin_team_decides_on(api):
    instance = awaiting_outcome(api, "transfer_cin_team", "Longer-term CIN support needed")
    response = complete(api, instance, "agree_assessment_outcome", ATM, assessmentOutcome="transfer_cin_team",
                        outcomeRationale="Agreed")
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"expectedSupportWeeks", "clearPlanWithOutcomes", "edgeOfCare"}
    assert activities(api.get(f"/process-instances/{instance['id']}").json) == ["agree_assessment_outcome"]
    # Another outcome does not ask them.
    instance = work(api, instance, "agree_assessment_outcome", ATM, assessmentOutcome="close", outcomeRationale="Agreed")
    assert instance["variables"]["outcome"] == "close"


def test_atm_recommendation_may_differ_from_the_agreed_outcome(api):
    instance = awaiting_outcome(api, "close", "Ongoing worries about school attendance")
    instance = work(api, instance, "agree_assessment_outcome", ATM, assessmentOutcome="short_cin_package",
                    outcomeRationale="Short package of work at CIN")
    assert instance["variables"]["outcome"] == "short_cin_package"
    assert instance["variables"]["recommendedOutcome"] == "close"


def test_challenge_agreed_between_atms_then_returned_to_ifd(api):
    instance = work(api, start(api), "duty_atm_review", ATM, reviewDecision="challenge",
                    reviewNotes="Threshold for assessment not met")
    instance = work(api, instance, "atm_challenge_discussion", ATM, challengeOutcome="agreed_return")
    returned = active(instance, "ifd_returned_referral")
    assert returned["candidateGroups"] == ["nel-ifd"]
    assert api.as_(ATM).post(f"/tasks/{returned['id']}/complete", {"variables": {}}).status_code == 403
    instance = work(api, instance, "ifd_returned_referral", IFD, ifdNextSteps="Early help offer")
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == "not_accepted_returned_to_ifd"


def test_challenge_agreed_between_atms_to_accept(api):
    instance = work(api, start(api), "duty_atm_review", ATM, reviewDecision="challenge")
    instance = work(api, instance, "atm_challenge_discussion", ATM, challengeOutcome="agreed_accept")
    assert active(instance, "allocation_discussion")["candidateGroups"] == ["nel-ai-atm"]


@pytest.mark.parametrize("decision,next_step", [("accept", "allocation_discussion"),
                                                 ("return", "ifd_returned_referral")])
def test_unresolved_challenge_escalates_to_team_managers(api, decision, next_step):
    instance = work(api, start(api), "duty_atm_review", ATM, reviewDecision="challenge")
    instance = work(api, instance, "atm_challenge_discussion", ATM, challengeOutcome="not_agreed")
    escalation = active(instance, "tm_escalation_discussion")
    assert escalation["candidateGroups"] == ["nel-ai-tm"]
    assert api.as_(ATM).post(f"/tasks/{escalation['id']}/complete",
                             {"variables": {"escalationOutcome": decision}}).status_code == 403
    instance = work(api, instance, "tm_escalation_discussion", TM, escalationOutcome=decision)
    active(instance, next_step)
    if decision == "return":
        instance = work(api, instance, "ifd_returned_referral", IFD, ifdNextSteps="Step down to early help")
        assert instance["variables"]["outcome"] == "not_accepted_returned_to_ifd"


def test_forms_refuse_missing_and_wrong_values_per_field(api):
    instance = allocate(api, start(api))
    visit = active(instance, "initial_visit")
    response = api.as_(SW1).post(f"/tasks/{visit['id']}/complete",
                                 {"variables": {"visitDate": "2026-02-30", "childSeen": "yes"}})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"visitDate", "childSeen"}
    supervision_less = api.get(f"/process-instances/{instance['id']}").json
    assert [t["activityId"] for t in supervision_less["activeTasks"]] == ["initial_visit"]
    # A visit is recorded once it has happened: a date mistyped into the future (here Tue 1 Dec)
    # would move the supervision and its escalation as far. The form says so.
    fields = {f["id"]: f for f in api.as_(SW1).get(f"/tasks/{visit['id']}").json["formFields"]}
    assert fields["visitDate"]["notAfterToday"] is True and fields["childSeen"]["notAfterToday"] is False
    response = api.as_(SW1).post(f"/tasks/{visit['id']}/complete",
                                 {"variables": {"visitDate": "2027-12-01", "childSeen": True}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"visitDate": ["Date of the initial visit must be today or in the past"]}
    # Nor before the referral came in (Tue 1 Dec): the supervision's 5 days count from it.
    response = api.as_(SW1).post(f"/tasks/{visit['id']}/complete",
                                 {"variables": {"visitDate": "2026-11-30", "childSeen": True}})
    assert response.json["error"]["details"] == {
        "visitDate": ["Date of the initial visit must be the same as or after 1 December 2026"]}

    recorded(api, "2026-12-22")
    instance = work(api, instance, "initial_visit", SW1, visitDate="2026-12-22", childSeen=True)
    supervision = active(instance, "formal_supervision")
    response = api.as_(ATM).post(f"/tasks/{supervision['id']}/complete",
                                 {"variables": {"complexity": "medium"}})
    details = response.json["error"]["details"]
    assert response.status_code == 422
    assert set(details) == {"complexity", "concernsEscalating", "multipleAgencies", "assessmentFocus"}
    assert "low, high" in details["complexity"][0]


def test_allocation_waits_for_the_management_case_note(api):
    # The document: once the discussion has taken place the ATM records it as a management
    # case note; only then is the social worker ready to go out and the visit's 3 days count.
    instance = work(api, start(api), "duty_atm_review", ATM, reviewDecision="accept")
    discussion = active(instance, "allocation_discussion")
    response = api.as_(ATM).post(f"/tasks/{discussion['id']}/complete", {"variables": {
        "allocatedWorker": SW1, "visitPlan": "Visit", "managementCaseNoteRecorded": False}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"managementCaseNoteRecorded": [
        "Record the discussion on Liquidlogic as a management case note before the social worker goes out on the visit"]}
    assert activities(api.get(f"/process-instances/{instance['id']}").json) == ["allocation_discussion"]
    instance = work(api, instance, "allocation_discussion", ATM, allocatedWorker=SW1, visitPlan="Visit",
                    managementCaseNoteRecorded=True)
    assert activities(instance) == ["initial_visit"]


@pytest.mark.parametrize("worker,why", [
    ("Sam", "there is no such user 'Sam'"),                 # how staff know nel.ai.sw1
    ("durham.ehtw", "durham.ehtw is not"),                  # another council's worker
    ("nel.ai.atm", "nel.ai.atm is not"),                    # an A&I user, not a social worker
])
def test_the_worker_allocated_must_be_an_a_and_i_social_worker(api, worker, why):
    # The visit goes to whoever is named: a name nobody has, or someone who does not work
    # A&I visits, would leave it where no social worker sees it, and the child unseen.
    instance = work(api, start(api), "duty_atm_review", ATM, reviewDecision="accept")
    discussion = active(instance, "allocation_discussion")
    response = api.as_(ATM).post(f"/tasks/{discussion['id']}/complete", {"variables": {
        "allocatedWorker": worker, "visitPlan": "Visit", "managementCaseNoteRecorded": True}})
    assert response.status_code == 422
    (message,) = response.json["error"]["details"]["allocatedWorker"]
    assert message.startswith("Social worker allocated must be the user ID of someone in nel-ai-sw") and why in message
    assert activities(api.get(f"/process-instances/{instance['id']}").json) == ["allocation_discussion"]
    instance = work(api, instance, "allocation_discussion", ATM, allocatedWorker=f" {SW2} ", visitPlan="Visit",
                    managementCaseNoteRecorded=True)
    assert active(instance, "initial_visit")["assignee"] == SW2


def test_start_variables_are_checked_per_field(api):
    response = api.post("/process-definitions/nel_section17/start", {
        "variables": {"childId": "C-1", "referralReceivedAt": "not a date", "strategyDiscussionRecommended": "no"}})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"referralId", "referralReceivedAt",
                                                      "strategyDiscussionRecommended"}


@pytest.mark.parametrize("key", ["nel_section17", "nel_strategy_to_icpc"])
def test_a_referral_cannot_be_received_later_than_today(api, key):
    # Every timescale counts from it: a receipt mistyped a year ahead would put the duty
    # review, and the 12 weeks, a year ahead. Later today is today (the suite's Tue 1 Dec).
    variables = {"childId": "C-1", "referralId": "R-1", "strategyDiscussionRecommended": False}
    if key == "nel_strategy_to_icpc":
        del variables["strategyDiscussionRecommended"]
    response = api.post(f"/process-definitions/{key}/start", {
        "variables": {**variables, "referralReceivedAt": "2027-12-01T10:00:00Z"}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "referralReceivedAt": ["Referral received at must be today or in the past"]}
    assert api.post(f"/process-definitions/{key}/start", {
        "variables": {**variables, "referralReceivedAt": "2026-12-01T18:00:00Z"}}).status_code == 201


def test_each_lane_sees_only_its_own_tray(api):
    start(api, business_key="REF-A")
    assert [t["activityId"] for t in api.as_(ATM).get("/tasks").json] == ["duty_atm_review"]
    for user in (IFD, TM, SW1):
        assert api.as_(user).get("/tasks").json == []
    assert len(api.as_(ATM).get("/tasks", candidateGroup="nel-ai-atm", businessKey="REF-A").json) == 1


def test_overdue_filter_uses_the_due_date(api):
    start(api, received="2020-01-06T09:00:00Z", business_key="OLD")  # reviewed long ago: overdue now
    start(api, received="2026-12-01T08:30:00Z", business_key="NEW")  # in the tray this morning: due tonight
    overdue = api.as_(ATM).get("/tasks", overdue="true").json
    assert [t["businessKey"] for t in overdue] == ["OLD"]
    assert [t["businessKey"] for t in api.as_(ATM).get("/tasks", overdue="false").json] == ["NEW"]


@pytest.fixture
def rota(app):
    """Two A&I teams on a weekly duty rota; the demo A&I users are in team `nel-ai`."""
    from app.auth import issue_token
    from app.cli import _create_user
    from app.duty import parse_rotas
    from app.extensions import db

    rotas = app.extensions["pathways.duty_rotas"]
    rotas.update(parse_rotas('{"nel_section17": {"teams": ["nel-ai", "nel-ai-b"], '
                             '"firstWeek": "2026-11-30", "dateVariable": "referralReceivedAt"}}'))
    with app.app_context():
        user = _create_user("nel.ai.atm.b", ["nel-ai-atm"], ["staff", "manager"], None, "ATM, team B", "nel-ai-b")
        app.tokens["nel.ai.atm.b"] = issue_token(user)
        db.session.commit()
    yield
    rotas.clear()


def test_referral_goes_to_the_team_on_duty_the_day_it_arrives(api, rota):
    # Week of Mon 30 Nov 2026: nel-ai; week of Mon 7 Dec: nel-ai-b; week of 14 Dec: nel-ai again.
    # Each referral is started as it arrives.
    on(api, "2026-12-04T16:00:00Z")
    a = start(api, received="2026-12-04T16:00:00Z", business_key="WEEK-A")
    on(api, "2026-12-07T09:00:00Z")
    b = start(api, received="2026-12-07T09:00:00Z", business_key="WEEK-B")
    on(api, "2026-12-08T09:00:00Z")
    c = start(api, received="2026-12-08T09:00:00Z", business_key="WEEK-B-OVERRIDE")
    override = api.post("/process-definitions/nel_section17/start", {"businessKey": "OVERRIDE", "variables": {
        "childId": "C-9", "referralId": "OVERRIDE", "referralReceivedAt": "2026-12-08T09:00:00Z",
        "strategyDiscussionRecommended": False, "dutyTeam": "nel-ai"}}).json
    assert [t["businessKey"] for t in api.as_(ATM).get("/tasks").json] == ["WEEK-A", "OVERRIDE"]
    assert [t["businessKey"] for t in api.as_("nel.ai.atm.b").get("/tasks").json] == ["WEEK-B", "WEEK-B-OVERRIDE"]
    other_team_task = active(b, "duty_atm_review")["id"]
    # Another duty team's case is not this ATM's to see at all.
    assert api.as_(ATM).get(f"/tasks/{other_team_task}").status_code == 404
    assert a["id"] and c["id"] and override["id"]
    history = api.get(f"/process-instances/{b['id']}/history").json
    assert history[0]["details"]["team"] == "nel-ai-b"


@pytest.mark.parametrize("team", ["NEL-AI", "nel-ai-c", ""])
def test_a_referral_is_held_only_by_a_team_that_exists(api, rota, team):
    # A team nobody is in would hold the duty review in no tray: the same-day review unseen.
    response = api.post("/process-definitions/nel_section17/start", {"businessKey": "TEAM", "variables": {
        "childId": "C-9", "referralId": "TEAM", "referralReceivedAt": RECEIVED,
        "strategyDiscussionRecommended": False, "dutyTeam": team}})
    if team == "":  # left empty: the duty rota decides
        assert response.status_code == 201
        history = api.get(f"/process-instances/{response.json['id']}/history").json
        assert history[0]["details"]["team"] == "nel-ai"
        return
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "dutyTeam": ["Team holding the referral must be one of the teams on the duty rota: nel-ai, nel-ai-b"]}
    assert api.get("/process-instances", businessKey="TEAM").json == []


def test_without_a_rota_a_referral_is_held_by_some_users_team(api):
    variables = {"childId": "C-9", "referralId": "T", "referralReceivedAt": RECEIVED,
                 "strategyDiscussionRecommended": False}
    held = api.post("/process-definitions/nel_section17/start",
                    {"businessKey": "T", "variables": {**variables, "dutyTeam": "nel-ai "}})
    assert held.status_code == 201, held.json
    refused = api.post("/process-definitions/nel_section17/start",
                       {"businessKey": "T", "variables": {**variables, "dutyTeam": "zz"}})
    assert refused.status_code == 422 and "nel-ai" in refused.json["error"]["details"]["dutyTeam"][0]


@pytest.mark.parametrize("text,message", [
    ("{not json", "not valid JSON"),
    ('{"k": {"teams": [], "firstWeek": "2026-11-30", "dateVariable": "d"}}', "teams"),
    ('{"k": {"teams": ["a"], "firstWeek": "2026-12-01", "dateVariable": "d"}}', "Monday"),
    ('{"k": {"teams": ["a"], "firstWeek": "soon", "dateVariable": "d"}}', "YYYY-MM-DD"),
    ('{"k": {"teams": ["a"], "firstWeek": "2026-11-30"}}', "dateVariable"),
])
def test_bad_rota_configuration_is_explained(text, message):
    from app.duty import parse_rotas

    with pytest.raises(ValueError, match=message):
        parse_rotas(text)
