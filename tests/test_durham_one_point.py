"""Durham One Point early help, worked through the API by a user of each lane: triage and
its routes, the Locality Early Help Conversation, allocation to the IFS Team and to a Family
Hub, the threshold discussion up to the strategic managers, the key worker's and the
practitioner's initial steps, assessments with their extension and escalation, TAF
reviews, seeing the child, non-engagement, step up, step down between the teams and
closure. Escalation timers fire through `pathways timers run-due --as-of`.

The suite's engine clock is Tue 1 Dec 2026 09:00 UTC (tests/conftest.py): deadlines that
count from a step reaching a tray or from a completed step count from then.
"""
from __future__ import annotations

import json

import pytest

from app.extensions import db
from app.models import ProcessInstance
from steps import active, activities, complete, recorded, work

EHTW, SEHTW, FIRST_CONTACT = "durham.ehtw", "durham.sehtw", "durham.first.contact"
IFST_TM, KW, FH_TM, EHP = "durham.ifst.tm", "durham.ifst.kw", "durham.fh.tm", "durham.fh.ehp"
OPS, STRATEGIC = "durham.ops", "durham.strategic"
END_OF = "T23:59:59+00:00"


def start(api, requester="parent", business_key="EH-1", **extra):
    variables = {"childId": "C-50", "familyId": "F-50", "requestReceivedAt": "2026-11-30T10:00:00Z",
                 "requester": requester, **extra}
    response = api.post("/process-definitions/durham_one_point/start",
                        {"businessKey": business_key, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def triage(api, instance, needs="complex", requester_consent=True, safeguarding=False, headline=4):
    return work(api, instance, "triage", EHTW, consent=requester_consent, needs=needs,
                safeguardingConcern=safeguarding, headlineOutcomes=headline, triageNotes="Checks done")


def allocate_ifst(api, instance, family_worker=False, timescale=28):
    return work(api, instance, "ifst_allocation", IFST_TM, allocationDecision="allocate", leadProfessional=KW,
                assessmentTimescaleDays=timescale, familyWorkerNeeded=family_worker,
                caseSummary="Parenting under stress; school attendance")


def initial_steps(api, instance, user=KW, seen="2026-12-03"):
    recorded(api, "2026-12-02")
    instance = work(api, instance, "contact_family", user, familyContactedOn="2026-12-01", referrerSpokenTo=True,
                    pvpRegisterChecked=True, consent="given", consentDate="2026-12-02")
    instance = work(api, instance, "risk_assessment", user, rapidCompletedOn="2026-12-02", visitRisks="None known")
    recorded(api, seen)
    return work(api, instance, "first_home_visit", user, homeVisitOn=seen, introductoryPackConfirmed=True,
                childSeenOn=seen, seenAlone=True)


def initial_work(api, instance):
    instance = work(api, instance, "assessment", KW, assessmentSummary="Worries about routines",
                    strongerFamiliesOutcomes="School attendance; parenting")
    instance = work(api, instance, "sign_off_assessment", IFST_TM, sharedWithFamily=True,
                    assessmentOversight="Agreed")
    recorded(api, "2026-12-08")
    instance = work(api, instance, "family_network_meeting", KW, familyNetworkMeetingOn="2026-12-08",
                    networkSupport="Grandmother does school runs")
    recorded(api, "2026-12-10")
    instance = work(api, instance, "initial_taf", KW, tafHeldOn="2026-12-10", tafAttendees="School, health")
    instance = work(api, instance, "initial_plan_update", KW, planUpdatedOn="2026-12-11")
    return work(api, instance, "initial_plan_circulated", KW, planCirculatedOn="2026-12-14")


def keep_in_touch(api, instance, day):
    """The key worker sees each child and has contact with the family on ``day``: a story
    that moves weeks on does not leave them unseen (their follow-ups would be raised)."""
    for task in [t for t in instance["activeTasks"] if t["activityId"] == "see_child"]:
        response = api.as_(KW).post(f"/tasks/{task['id']}/complete", {"variables": {
            "visitOutcome": "seen", "childSeenOn": day, "seenAlone": True, "notSeenAloneReason": None}})
        assert response.status_code == 200, response.json
        instance = response.json
    if "family_contact" in activities(instance):
        instance = work(api, instance, "family_contact", KW, familyContactOn=day, familyContactType="face_to_face")
    return instance


def taf_review(api, instance, decision="continue", held="2027-01-20", in_touch=True):
    recorded(api, held)
    if in_touch:
        instance = keep_in_touch(api, instance, held)
    instance = work(api, instance, "taf_review", KW, tafHeldOn=held, scalingReview="6/10", caseDecision=decision)
    if "manager_at_taf" in activities(instance):  # every third TAF
        instance = work(api, instance, "manager_at_taf", IFST_TM, managerAttended=True,
                        tafManagementOversight="Plan on track")
    instance = work(api, instance, "taf_plan_update", KW, planUpdatedOn=held)
    return work(api, instance, "taf_plan_circulated", KW, planCirculatedOn=held)


def close_case(api, instance, manager=IFST_TM, worker=KW):
    instance = work(api, instance, "agree_closure", manager, closureDate="2027-02-01", caseSupervisionRecorded=True)
    instance = work(api, instance, "family_survey", worker, surveyOfferedOn="2027-02-01", surveyOfferedTo="Mother")
    instance = work(api, instance, "sign_off_closure", manager, outcomesChecked=True, recordsUpToDate=True,
                    documentsUploaded=True)
    return work(api, instance, "closure_letter", worker, closureLetterSentOn="2027-02-02")


def ifst_case(api, **extra):
    return initial_steps(api, allocate_ifst(api, triage(api, start(api, **extra))))


# -- triage and its routes ------------------------------------------------------------

def test_triage_is_due_within_5_working_days_of_the_request(api):
    instance = start(api)
    task = active(instance, "triage")
    assert task["candidateGroups"] == ["durham-ehtw"]
    assert task["due"] == "2026-12-07" + END_OF  # Mon 30 Nov + 5 working days


@pytest.mark.parametrize("change,outcome", [
    ({"needs": "none"}, "resolved"),
    ({"needs": "single", "headline": 0}, "redirected"),
])
def test_resolved_or_redirected_at_triage(api, change, outcome):
    instance = triage(api, start(api), **change)
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == outcome


def test_a_safeguarding_concern_goes_to_first_contact(api):
    instance = triage(api, start(api), safeguarding=True)
    task = active(instance, "safeguarding_procedures")
    assert task["candidateGroups"] == ["durham-first-contact"]
    instance = work(api, instance, "safeguarding_procedures", FIRST_CONTACT, safeguardingAction="Passed to MASH")
    assert instance["variables"]["outcome"] == "safeguarding"


@pytest.mark.parametrize("route,next_step", [
    ("resolve", None), ("redirect", None), ("ifst", "ifst_allocation"), ("family_hub", "fh_allocation"),
    ("safeguarding", "safeguarding_procedures"),
])
def test_locality_early_help_conversation_for_professional_requests(api, route, next_step):
    instance = triage(api, start(api, requester="professional"), needs="multiple", headline=2)
    instance = work(api, instance, "locality_conversation", EHTW, route=route, conversationNotes="Partners met")
    if next_step is None:
        assert instance["status"] == "completed"
        assert instance["variables"]["outcome"] == {"resolve": "resolved", "redirect": "redirected"}[route]
    else:
        assert activities(instance) == [next_step]


def test_the_conversation_cannot_send_it_back_to_a_conversation(api):
    instance = triage(api, start(api, requester="professional"), needs="multiple", headline=2)
    response = complete(api, instance, "locality_conversation", EHTW, route="locality_conversation",
                        conversationNotes="x")
    assert response.status_code == 422 and "route" in response.json["error"]["details"]


def test_allocation_timescales_ifst_2_and_family_hub_7_working_days(api):
    ifst = triage(api, start(api))
    assert active(ifst, "ifst_allocation")["due"] == "2026-12-03" + END_OF
    family_hub = triage(api, start(api, business_key="EH-2"), needs="multiple", headline=3)
    assert active(family_hub, "fh_allocation")["due"] == "2026-12-10" + END_OF
    response = complete(api, ifst, "ifst_allocation", IFST_TM, allocationDecision="allocate", caseSummary="x")
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "leadProfessional": ["Enter the key worker's user ID"],
        "assessmentTimescaleDays": ["Enter the expected assessment timescale, no more than 28 working days"],
        "familyWorkerNeeded": ["Select whether Family Worker support is needed"],
    }
    response = complete(api, ifst, "ifst_allocation", IFST_TM, allocationDecision="allocate", leadProfessional=KW,
                        assessmentTimescaleDays=30, familyWorkerNeeded=False, caseSummary="x")
    assert response.json["error"]["details"] == {
        "assessmentTimescaleDays": ["Expected assessment timescale (working days from consent) must be 28 or less"]}


# -- threshold discussion --------------------------------------------------------------

def challenge(api, instance, allocation="ifst_allocation", manager=IFST_TM):
    summary = {"caseSummary" if allocation == "ifst_allocation" else "allocationSummary": "Sexual harm disclosed"}
    instance = work(api, instance, allocation, manager, allocationDecision="challenge", **summary)
    assert active(instance, "raise_challenge")["due"] == "2026-12-02" + END_OF
    return work(api, instance, "raise_challenge", manager, challengeReasons="Meets safeguarding threshold")


def test_threshold_discussion_all_the_way_to_the_strategic_managers(api):
    instance = challenge(api, triage(api, start(api)))
    assert activities(instance) == ["interim_support", "sehtw_discussion"]
    assert active(instance, "sehtw_discussion")["candidateGroups"] == ["durham-sehtw"]
    # Support for the family carries on while the managers talk.
    instance = work(api, instance, "interim_support", IFST_TM, interimSupport="Key worker visits meanwhile")
    instance = work(api, instance, "sehtw_discussion", SEHTW, thresholdOutcome="no_agreement", sehtwNotes="-")
    assert active(instance, "ops_review")["due"] == "2026-12-03" + END_OF
    instance = work(api, instance, "ops_review", OPS, thresholdOutcome="not_early_help",
                    opsManagementOversight="Meets safeguarding thresholds")
    instance = work(api, instance, "first_contact_conversation", OPS, thresholdOutcome="no_agreement",
                    firstContactNotes="First Contact Manager disagrees")
    decision = active(instance, "strategic_decision")
    assert decision["candidateGroups"] == ["durham-strategic-manager"]
    instance = work(api, instance, "strategic_decision", STRATEGIC, thresholdOutcome="early_help",
                    strategicManagementOversight="Early help with IFST")
    # Final: back to the team manager to allocate.
    assert activities(instance) == ["ifst_allocation"]


def test_overturned_at_the_first_step_goes_to_first_contact(api):
    instance = triage(api, start(api), needs="multiple", headline=3)
    instance = challenge(api, instance, "fh_allocation", FH_TM)
    instance = work(api, instance, "sehtw_discussion", SEHTW, thresholdOutcome="safeguarding", sehtwNotes="FCSWC")
    instance = work(api, instance, "interim_support", FH_TM, interimSupport="Hub worker in touch")
    assert activities(instance) == ["safeguarding_procedures"]


def test_a_discussion_open_after_2_working_days_is_escalated(api, timers_run_due):
    instance = challenge(api, triage(api, start(api)))
    assert "nothing due" in timers_run_due("2026-12-03T23:59:58+00:00")
    assert "1 fired" in timers_run_due("2026-12-04T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    escalation = active(instance, "discussion_overdue_escalation")
    assert escalation["candidateGroups"] == ["durham-strategic-manager"]
    active(instance, "sehtw_discussion")  # the discussion itself carries on


# -- IFST case -------------------------------------------------------------------------

def test_ifst_initial_steps_and_their_deadlines(api):
    instance = triage(api, start(api))
    instance = allocate_ifst(api, instance, family_worker=True)
    contact = active(instance, "contact_family")
    assert contact["assignee"] == KW and contact["candidateGroups"] == ["durham-ifst-kw"]
    response = complete(api, instance, "contact_family", KW, familyContactedOn="2026-12-01", referrerSpokenTo=True,
                        pvpRegisterChecked=False, consent="given")
    assert response.json["error"]["details"] == {
        "pvpRegisterChecked": ["Check the Potentially Violent Persons register before visiting"],
        "consentDate": ["Enter the date consent was given"]}
    # Asked for at allocation: the Family Worker is allocated within 3 working days of that
    # request, alongside the key worker's first contact, not after the first home visit.
    assert activities(instance) == ["allocate_family_worker", "contact_family"]
    assert active(instance, "allocate_family_worker")["due"] == "2026-12-04" + END_OF
    assert active(instance, "allocate_family_worker")["candidateGroups"] == ["durham-ifst-tm"]
    instance = initial_steps(api, instance)
    assert activities(instance) == [
        "allocate_family_worker", "assessment", "family_contact", "family_network_meeting", "see_child"]
    # 28 working days from consent on Wed 2 Dec, over Christmas and New Year.
    assert active(instance, "assessment")["due"] == "2027-01-14" + END_OF
    assert active(instance, "family_network_meeting")["due"] == "2027-01-14" + END_OF
    assert active(instance, "see_child")["due"] == "2027-01-05" + END_OF  # 20 working days after 3 Dec
    # Allocated on Thu 3 Dec, the evening of the home visit: the key worker meets the Family
    # Worker within 2 working days and visits with them within 5.
    instance = work(api, instance, "allocate_family_worker", IFST_TM, familyWorker="Jo (FW)",
                    familyWorkerFocus="Morning routines")
    assert active(instance, "meet_family_worker")["due"] == "2026-12-07" + END_OF
    instance = work(api, instance, "meet_family_worker", KW, familyWorkerPlan="Two visits a week")
    assert active(instance, "family_worker_joint_visit")["due"] == "2026-12-10" + END_OF
    recorded(api, "2026-12-07")
    instance = work(api, instance, "family_worker_joint_visit", KW, familyWorkerVisitOn="2026-12-07")
    instance = initial_work(api, instance)
    review = active(instance, "taf_review")
    assert review["due"] == "2027-01-26" + END_OF  # 30 working days after the initial TAF on 10 Dec
    assert activities(instance) == ["family_contact", "request_family_worker", "see_child", "taf_review"]


def test_the_key_worker_asks_for_a_family_worker_later_in_the_case(api):
    instance = initial_work(api, ifst_case(api))  # none asked for at allocation
    ask = active(instance, "request_family_worker")
    assert ask["assignee"] == KW and ask["candidateGroups"] == ["durham-ifst-kw"] and ask["due"] is None
    response = complete(api, instance, "request_family_worker", KW)
    assert response.json["error"]["details"] == {
        "familyWorkerRequest": ["Enter support you are asking the Family Worker to give"]}
    instance = work(api, instance, "request_family_worker", KW, familyWorkerRequest="Bedtime routines")
    # The same timescales as a request made at allocation, from this request (Thu 10 Dec, the
    # evening of the initial TAF).
    allocate = active(instance, "allocate_family_worker")
    assert allocate["candidateGroups"] == ["durham-ifst-tm"] and allocate["due"] == "2026-12-15" + END_OF
    assert "request_family_worker" not in activities(instance)
    instance = work(api, instance, "allocate_family_worker", IFST_TM, familyWorker="Sam (FW)",
                    familyWorkerFocus="Bedtime routines, review at the next TAF")
    assert active(instance, "meet_family_worker")["due"] == "2026-12-14" + END_OF
    instance = work(api, instance, "meet_family_worker", KW, familyWorkerPlan="Three evening visits a week")
    assert active(instance, "family_worker_joint_visit")["due"] == "2026-12-17" + END_OF
    recorded(api, "2026-12-14")
    instance = work(api, instance, "family_worker_joint_visit", KW, familyWorkerVisitOn="2026-12-14")
    # The key worker can ask again; the TAF reviews carried on throughout.
    assert activities(instance) == ["family_contact", "request_family_worker", "see_child", "taf_review"]
    assert instance["variables"]["familyWorkerNeeded"] is False


def test_an_ops_manager_attends_every_third_taf(api):
    instance = initial_work(api, ifst_case(api))  # the initial TAF is the first
    instance = taf_review(api, instance)  # the second: no manager needed
    assert activities(instance) == ["family_contact", "request_family_worker", "see_child", "taf_review"]
    recorded(api, "2027-02-17")
    instance = keep_in_touch(api, instance, "2027-02-17")
    instance = work(api, instance, "taf_review", KW, tafHeldOn="2027-02-17", scalingReview="7/10",
                    caseDecision="continue")  # the third
    # The manager records attending it before the plan is updated.
    task = active(instance, "manager_at_taf")
    assert activities(instance) == ["family_contact", "manager_at_taf", "request_family_worker", "see_child"]
    assert task["candidateGroups"] == ["durham-ifst-tm"] and task["due"] == "2027-02-18" + END_OF
    response = complete(api, instance, "manager_at_taf", IFST_TM, managerAttended=False, tafManagementOversight="-")
    assert response.json["error"]["details"] == {
        "managerAttended": ["An OPS manager must attend every third TAF unless the family is due for closure"]}
    instance = work(api, instance, "manager_at_taf", IFST_TM, managerAttended=True,
                    tafManagementOversight="Progress on routines; keep the school involved")
    instance = work(api, instance, "taf_plan_update", KW, planUpdatedOn="2027-02-18")
    instance = work(api, instance, "taf_plan_circulated", KW, planCirculatedOn="2027-02-19")
    completed = 1
    for number in range(4, 10):  # the sixth and the ninth need the manager again
        instance = taf_review(api, instance)
        completed += number % 3 == 0
    assert instance["variables"]["tafCount"] == 9
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert sum(1 for e in history if e["type"] == "task_completed" and e["activityId"] == "manager_at_taf") \
        == completed == 3


def test_no_manager_needed_at_a_third_taf_that_closes_the_case(api):
    instance = taf_review(api, initial_work(api, ifst_case(api)))
    recorded(api, "2027-02-17")
    instance = keep_in_touch(api, instance, "2027-02-17")
    instance = work(api, instance, "taf_review", KW, tafHeldOn="2027-02-17", scalingReview="9/10", caseDecision="close")
    assert activities(instance) == ["family_contact", "request_family_worker", "see_child", "taf_plan_update"]
    instance = work(api, instance, "taf_plan_update", KW, planUpdatedOn="2027-02-18")
    instance = work(api, instance, "taf_plan_circulated", KW, planCirculatedOn="2027-02-19")
    assert activities(instance) == ["agree_closure", "family_contact", "request_family_worker", "see_child"]


def test_initial_taf_plan_updated_within_5_and_circulated_within_10_working_days(api):
    instance = ifst_case(api)
    # Chapters 5 and 10: the Family Network Meeting comes before the first TAF.
    assert "family_network_meeting" in activities(instance) and "initial_taf" not in activities(instance)
    instance = work(api, instance, "family_network_meeting", KW, familyNetworkMeetingOn="2026-12-08",
                    networkSupport="Aunt")
    recorded(api, "2026-12-10")
    instance = work(api, instance, "initial_taf", KW, tafHeldOn="2026-12-10", tafAttendees="School")
    assert active(instance, "initial_plan_update")["due"] == "2026-12-17" + END_OF
    instance = work(api, instance, "initial_plan_update", KW, planUpdatedOn="2026-12-11")
    assert active(instance, "initial_plan_circulated")["due"] == "2026-12-24" + END_OF


def test_the_key_worker_has_contact_with_the_family_every_10_working_days(api, timers_run_due):
    instance = ifst_case(api)  # the first home visit on Thu 3 Dec is the first contact
    contact = active(instance, "family_contact")
    assert contact["assignee"] == KW and contact["candidateGroups"] == ["durham-ifst-kw"]
    assert contact["due"] == "2026-12-17" + END_OF
    recorded(api, "2026-12-10")
    response = complete(api, instance, "family_contact", KW, familyContactOn="2026-12-10")
    assert response.json["error"]["details"] == {"familyContactType": ["Select type of contact"]}
    instance = work(api, instance, "family_contact", KW, familyContactOn="2026-12-10", familyContactType="group")
    assert active(instance, "family_contact")["due"] == "2026-12-24" + END_OF  # from the contact, not the visit
    # Missed: the manager follows it up, and the key worker's task stays.
    assert "nothing due" in timers_run_due("2026-12-24T23:59:58+00:00")
    assert "1 fired" in timers_run_due("2026-12-25T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert active(instance, "no_contact_in_time")["candidateGroups"] == ["durham-ifst-tm"]
    active(instance, "family_contact")
    # The contact, when it happens, starts the next 10 days and closes the follow-up.
    recorded(api, "2027-01-04")
    instance = work(api, instance, "family_contact", KW, familyContactOn="2027-01-04",
                    familyContactType="face_to_face")
    assert "no_contact_in_time" not in activities(instance)
    assert active(instance, "family_contact")["due"] == "2027-01-18" + END_OF


def test_the_manager_records_the_follow_up_of_a_missed_contact(api, timers_run_due):
    instance = ifst_case(api)
    assert "1 fired" in timers_run_due("2026-12-18T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    instance = work(api, instance, "no_contact_in_time", IFST_TM, noContactAction="Visit booked for Monday")
    assert "no_contact_in_time" not in activities(instance)
    assert active(instance, "family_contact")["due"] == "2026-12-17" + END_OF  # still owed


ALONE_REASON = {"notSeenAloneReason": ["Enter why the child was not seen alone, as they are 5 or over"]}


@pytest.mark.parametrize("born,needs_reason", [
    ("2021-12-10", True),  # five on the day of the visit
    ("2019-03-01", True),
    ("2021-12-11", False),  # five the day after
    (None, False),  # age unknown: nothing to check it against
])
def test_a_child_5_or_over_is_seen_alone_or_the_reason_recorded(api, born, needs_reason):
    instance = ifst_case(api, **({"childDateOfBirth": born} if born else {}))
    recorded(api, "2026-12-10")
    response = complete(api, instance, "see_child", KW, visitOutcome="seen", childSeenOn="2026-12-10")
    assert response.json["error"]["details"] == {"seenAlone": ["Select whether the child was seen alone"]}
    response = complete(api, instance, "see_child", KW, visitOutcome="seen", childSeenOn="2026-12-10",
                        seenAlone=False)
    if needs_reason:
        assert response.status_code == 422 and response.json["error"]["details"] == ALONE_REASON
        response = complete(api, instance, "see_child", KW, visitOutcome="seen", childSeenOn="2026-12-10",
                            seenAlone=False, notSeenAloneReason="Asleep; seen alone at school on Friday")
    assert response.status_code == 200, response.json
    instance = response.json
    # Seen alone needs no reason; nor does a missed appointment, whatever was said last time.
    recorded(api, "2026-12-17")
    instance = work(api, instance, "see_child", KW, visitOutcome="seen", childSeenOn="2026-12-17", seenAlone=True)
    work(api, instance, "see_child", KW, visitOutcome="missed", missedInARow=1)


def test_the_first_home_visits_check_seen_alone_too(api):
    ifst = allocate_ifst(api, triage(api, start(api, childDateOfBirth="2019-03-01")))
    recorded(api, "2026-12-02")
    ifst = work(api, ifst, "contact_family", KW, familyContactedOn="2026-12-01", referrerSpokenTo=True,
                pvpRegisterChecked=True, consent="given", consentDate="2026-12-02")
    ifst = work(api, ifst, "risk_assessment", KW, rapidCompletedOn="2026-12-02", visitRisks="None known")
    visit = {"homeVisitOn": "2026-12-03", "introductoryPackConfirmed": True, "childSeenOn": "2026-12-03",
             "seenAlone": False}
    recorded(api, "2026-12-03")
    assert complete(api, ifst, "first_home_visit", KW, **visit).json["error"]["details"] == ALONE_REASON
    work(api, ifst, "first_home_visit", KW, **visit, notSeenAloneReason="Parent refused; manager told")
    hub = triage(api, start(api, business_key="EH-2", childDateOfBirth="2019-03-01"), needs="multiple", headline=3)
    hub = work(api, hub, "fh_allocation", FH_TM, allocationDecision="allocate", leadProfessional=EHP,
               allocationSummary="Parenting support")
    hub = work(api, hub, "gain_consent", EHP, pvpRegisterChecked=True, consent="given", consentDate="2026-12-02")
    hub = work(api, hub, "risk_assessment", EHP, rapidCompletedOn="2026-12-02", visitRisks="None")
    visit.update(familyNetworkMeetingOffered=True, response="group")
    assert complete(api, hub, "home_visit", EHP, **visit).json["error"]["details"] == ALONE_REASON


def test_a_child_under_one_is_seen_every_10_working_days(api):
    instance = ifst_case(api, childDateOfBirth="2026-06-01")
    assert active(instance, "see_child")["due"] == "2026-12-17" + END_OF


def test_assessment_extension_moves_the_due_date_and_the_45_day_escalation_stays(api, timers_run_due):
    instance = ifst_case(api)
    assert active(instance, "assessment")["due"] == "2027-01-14" + END_OF
    assert "1 fired" in timers_run_due("2027-01-15T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    extension = active(instance, "agree_extension")
    assert extension["candidateGroups"] == ["durham-ifst-tm"]
    (field,) = [f for f in extension["formFields"] if f["id"] == "assessmentExtendedTo"]
    assert (field["notBefore"], field["notAfter"]) == ("2027-01-15", "2027-02-08")  # 45 working days from consent
    for date, message in [
        (None, "Enter the new date for the assessment"),
        ("2027-02-09", "New date for the assessment must be the same as or before 8 February 2027"),
        ("2027-01-14", "New date for the assessment must be the same as or after 15 January 2027"),
    ]:
        given = {"assessmentExtendedTo": date} if date else {}
        response = complete(api, instance, "agree_extension", IFST_TM, extensionDecision="extended",
                            extensionReason="Father's views still to be gathered", **given)
        assert response.status_code == 422
        assert response.json["error"]["details"] == {"assessmentExtendedTo": [message]}
    instance = work(api, instance, "agree_extension", IFST_TM, extensionDecision="extended",
                    extensionReason="Father's views still to be gathered", assessmentExtendedTo="2027-02-01")
    # The assessment keeps its task (and whoever holds it); its due date, and those of the
    # steps due within the assessment period, move to the date agreed.
    assert active(instance, "assessment")["due"] == "2027-02-01" + END_OF
    assert active(instance, "family_network_meeting")["due"] == "2027-02-01" + END_OF
    assert active(instance, "see_child")["due"] == "2027-01-05" + END_OF  # reads nothing that changed
    history = api.get(f"/process-instances/{instance['id']}/history").json
    moved = [e for e in history if e["type"] == "task_due_changed"]
    assert {e["activityId"] for e in moved} == {"assessment", "family_network_meeting"}
    # The child has not been seen since 3 Dec either: the visit timer fired on 6 Jan.
    active(instance, "child_not_seen")
    instance = work(api, instance, "assessment", KW, assessmentSummary="Worries about routines",
                    strongerFamiliesOutcomes="School attendance")
    assert active(instance, "sign_off_assessment")["due"] == "2027-02-01" + END_OF
    assert not [t for t in instance["timers"] if t["activityId"] == "assessment_45_days"]


def test_the_45_day_escalation_goes_to_the_operations_manager(api, timers_run_due):
    instance = ifst_case(api)
    assert "1 fired" in timers_run_due("2027-01-15T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    instance = work(api, instance, "agree_extension", IFST_TM, extensionDecision="complete_now",
                    extensionReason="Enough is known")
    assert active(instance, "assessment")["due"] == "2027-01-14" + END_OF  # no extension: nothing moves
    assert "1 fired" in timers_run_due("2027-02-09T00:00:00+00:00")  # 45 working days from consent
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert active(instance, "assessment_over_45_days")["candidateGroups"] == ["durham-ops-manager"]
    active(instance, "assessment")  # still with the key worker


def test_child_not_seen_in_time_escalates_to_the_manager(api, timers_run_due):
    instance = ifst_case(api)
    assert "1 fired" in timers_run_due("2027-01-05T23:59:58+00:00")  # the 10-day family contact, not this
    assert "child_not_seen" not in activities(api.get(f"/process-instances/{instance['id']}").json)
    assert "1 fired" in timers_run_due("2027-01-06T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert active(instance, "child_not_seen")["candidateGroups"] == ["durham-ifst-tm", "durham-fh-tm"]
    # Seeing the child starts the next 20 working days from that visit, and closes the follow-up.
    recorded(api, "2027-01-07")
    instance = work(api, instance, "see_child", KW, visitOutcome="seen", childSeenOn="2027-01-07", seenAlone=True)
    assert active(instance, "see_child")["due"] == "2027-02-04" + END_OF
    assert "child_not_seen" not in activities(instance)


def test_seeing_the_child_or_consent_cannot_be_recorded_later_than_today(api):
    # The next 20 (or 10) working days to see the child, and the assessment's 28, count from
    # these: a date mistyped into the future would hold back the escalation as far.
    instance = allocate_ifst(api, triage(api, start(api)))
    response = complete(api, instance, "contact_family", KW, familyContactedOn="2026-12-01", referrerSpokenTo=True,
                        pvpRegisterChecked=True, consent="given", consentDate="2026-12-02")
    assert response.json["error"]["details"] == {"consentDate": ["Date consent was given must be today or in the past"]}
    instance = initial_steps(api, instance)  # on Thu 3 Dec
    response = complete(api, instance, "see_child", KW, visitOutcome="seen", childSeenOn="2027-12-10", seenAlone=True)
    assert response.json["error"]["details"] == {"childSeenOn": ["Date the child was seen must be today or in the past"]}
    assert active(api.get(f"/process-instances/{instance['id']}").json, "see_child")["due"] == "2027-01-05" + END_OF


def test_a_timer_past_due_when_the_case_is_next_worked_fires_then_and_is_not_lost(api, timers_run_due):
    # The family contact was due by 17 Dec and the 28-day assessment by 14 Jan; no timer job
    # has fired them (the workers were down, or behind). Seeing the child on 20 Jan runs the
    # case: both escalations fire in that action, rather than dropping out of the schedule.
    instance = ifst_case(api)
    recorded(api, "2027-01-20")
    instance = work(api, instance, "see_child", KW, visitOutcome="seen", childSeenOn="2027-01-20", seenAlone=True)
    assert active(instance, "no_contact_in_time")["candidateGroups"] == ["durham-ifst-tm"]
    assert active(instance, "agree_extension")["candidateGroups"] == ["durham-ifst-tm"]
    history = api.get(f"/process-instances/{instance['id']}/history").json
    ended = sorted((e["type"], e["activityId"]) for e in history if e["type"] in ("timer_fired", "timer_cancelled")
                   and e["activityId"] in ("contact_overdue", "assessment_timescale_reached"))
    assert ended == [("timer_fired", "assessment_timescale_reached"), ("timer_fired", "contact_overdue")]
    assert "nothing due" in timers_run_due("2027-01-20T18:00:00+00:00")  # fired once, not again
    # The contact, when it is made, closes the follow-up.
    instance = work(api, instance, "family_contact", KW, familyContactOn="2027-01-20", familyContactType="face_to_face")
    assert "no_contact_in_time" not in activities(instance)


def test_ifst_case_closes_with_survey_sign_off_and_letter(api):
    instance = taf_review(api, initial_work(api, ifst_case(api)), decision="close")
    assert active(instance, "agree_closure")["candidateGroups"] == ["durham-ifst-tm"]
    response = complete(api, instance, "agree_closure", IFST_TM, closureDate="2027-02-01",
                        caseSupervisionRecorded=False)
    assert response.json["error"]["details"] == {"caseSupervisionRecorded": [
        "Record the case discussion on the Case Supervision Form before agreeing closure"]}
    instance = close_case(api, instance)
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == "closed"
    assert instance["activeTasks"] == [] and instance["timers"] == []  # seeing the child stopped too


def test_consent_refused_goes_to_closure(api):
    instance = allocate_ifst(api, triage(api, start(api)))
    instance = work(api, instance, "contact_family", KW, familyContactedOn="2026-12-01", referrerSpokenTo=True,
                    pvpRegisterChecked=True, consent="refused")
    assert activities(instance) == ["agree_closure", "request_family_worker"]
    assert close_case(api, instance)["variables"]["outcome"] == "closed"


def test_three_missed_appointments_non_engagement_then_immediate_step_up(api):
    instance = ifst_case(api)
    for missed in (1, 2):
        instance = work(api, instance, "see_child", KW, visitOutcome="missed", missedInARow=missed)
        assert "non_engagement_review" not in activities(instance)
    instance = work(api, instance, "see_child", KW, visitOutcome="missed", missedInARow=3)
    review = active(instance, "non_engagement_review")
    assert review["candidateGroups"] == ["durham-ifst-tm", "durham-fh-tm"]
    instance = work(api, instance, "non_engagement_review", IFST_TM, harmMatrixAnalysis="Impact on the children",
                    engagementDecision="step_up")
    instance = work(api, instance, "decide_step_up", IFST_TM, stepUpRoute="immediate",
                    stepUpReasons="Bruising seen at school")
    # The same day (Thu 3 Dec, the evening of the first home visit).
    assert active(instance, "discuss_families_first")["due"] == "2026-12-03" + END_OF
    instance = work(api, instance, "discuss_families_first", IFST_TM, familiesFirstContact="FF duty",
                    stepUpAgreedOn="2026-12-03")
    assert active(instance, "start_step_up")["due"] == "2026-12-04" + END_OF
    instance = work(api, instance, "start_step_up", IFST_TM, stepUpTeam="Families First", caseNoteAdded=True)
    assert instance["status"] == "completed"
    assert instance["variables"]["outcome"] == "stepped_up_families_first"
    assert instance["activeTasks"] == []


def test_access_denied_and_keep_engaging(api):
    instance = work(api, ifst_case(api), "see_child", KW, visitOutcome="access_denied")
    instance = work(api, instance, "non_engagement_review", IFST_TM, harmMatrixAnalysis="First refusal",
                    engagementDecision="continue")
    active(instance, "see_child")


def test_step_up_through_the_weekly_meeting_not_agreed_goes_back_to_taf_reviews(api):
    instance = taf_review(api, initial_work(api, ifst_case(api)), decision="step_up")
    instance = work(api, instance, "decide_step_up", IFST_TM, stepUpRoute="weekly_meeting", stepUpReasons="Drift")
    instance = work(api, instance, "step_up_meeting", IFST_TM, requestFormSent=True, meetingHeldOn="2027-01-27",
                    stepUpDecision="not_agreed")
    assert "taf_review" in activities(instance)


def test_step_down_to_a_family_hub_and_step_up_again(api):
    instance = taf_review(api, initial_work(api, ifst_case(api)), decision="step_down_family_hub")
    instance = work(api, instance, "step_down_meeting", IFST_TM, familyAndTafAgree=True, meetingHeldOn="2027-01-27",
                    stepDownDecision="agreed", outstandingWork="Routines")
    recorded(api, "2027-01-28")  # the story's clock: the step down is done the day after the meeting
    instance = work(api, instance, "transfer_to_family_hub", IFST_TM, transferredOn="2027-01-28")
    assert activities(instance) == ["fh_allocation"]
    instance = work(api, instance, "fh_allocation", FH_TM, allocationDecision="allocate", leadProfessional=EHP,
                    allocationSummary="Stepped down from IFST")
    joint = active(instance, "joint_visit_key_worker")
    # Allocated on Thu 28 Jan: the joint visit with the key worker within 5 working days.
    assert joint["assignee"] == EHP and joint["due"] == "2027-02-04" + END_OF
    instance = work(api, instance, "joint_visit_key_worker", EHP, jointVisitOn="2027-02-01")
    instance = family_hub_initial(api, instance, consent="2027-02-02", visit="2027-02-03")
    instance = family_hub_assessed(api, instance)
    instance = work(api, instance, "case_discussion", FH_TM, reviewedOn="2027-03-16", progress="Slipping",
                    caseDecision="step_up_ifst")
    instance = work(api, instance, "step_up_ifst_meeting", FH_TM, assessmentFinalised=True,
                    meetingHeldOn="2027-03-23", stepUpDecision="agreed")
    instance = work(api, instance, "transfer_to_ifst", FH_TM, transferredOn="2027-03-24")
    assert activities(instance) == ["ifst_allocation"]
    instance = allocate_ifst(api, instance)
    joint = active(instance, "joint_visit_family_hub")
    assert joint["assignee"] == KW


# -- Family Hub case -------------------------------------------------------------------

def family_hub_initial(api, instance, consent="2026-12-02", visit="2026-12-03", response="assessment"):
    recorded(api, consent)
    instance = work(api, instance, "gain_consent", EHP, pvpRegisterChecked=True, consent="given",
                    consentDate=consent)
    instance = work(api, instance, "risk_assessment", EHP, rapidCompletedOn=consent, visitRisks="None")
    recorded(api, visit)
    return work(api, instance, "home_visit", EHP, homeVisitOn=visit, introductoryPackConfirmed=True,
                childSeenOn=visit, seenAlone=True, familyNetworkMeetingOffered=True, response=response)


def family_hub_assessed(api, instance):
    instance = work(api, instance, "submit_assessment", EHP, assessmentAnalysis="Worries", headlineOutcomesIdentified=2)
    instance = work(api, instance, "quality_assure_assessment", FH_TM, qaDecision="finalised", qaFeedback="Good")
    instance = work(api, instance, "family_plan", EHP, familyPlanSummary="Six weeks of parenting support")
    return work(api, instance, "authorise_plan", FH_TM, planAuthorised=True)


def family_hub_case(api):
    instance = triage(api, start(api), needs="multiple", headline=3)
    return work(api, instance, "fh_allocation", FH_TM, allocationDecision="allocate", leadProfessional=EHP,
                allocationSummary="Parenting support")


def test_family_hub_consent_assessment_and_quality_assurance_timescales(api):
    instance = family_hub_case(api)
    consent = active(instance, "gain_consent")
    assert consent["assignee"] == EHP and consent["due"] == "2026-12-15" + END_OF
    instance = family_hub_initial(api, instance)
    assert active(instance, "submit_assessment")["due"] == "2026-12-23" + END_OF  # 15 working days from consent
    instance = work(api, instance, "submit_assessment", EHP, assessmentAnalysis="Draft", headlineOutcomesIdentified=2)
    # 5 more working days from its submission (Thu 3 Dec, the evening of the home visit).
    assert active(instance, "quality_assure_assessment")["due"] == "2026-12-10" + END_OF
    instance = work(api, instance, "quality_assure_assessment", FH_TM, qaDecision="returned",
                    qaFeedback="Voice of the child missing")
    instance = work(api, instance, "submit_assessment", EHP, assessmentAnalysis="With the child's voice",
                    headlineOutcomesIdentified=2)
    instance = work(api, instance, "quality_assure_assessment", FH_TM, qaDecision="finalised", qaFeedback="Good")
    instance = work(api, instance, "family_plan", EHP, familyPlanSummary="Time limited")
    instance = work(api, instance, "authorise_plan", FH_TM, planAuthorised=True)
    # Reviewed after six weeks of work, then every four.
    assert active(instance, "case_discussion")["due"].startswith("2027-01-13")
    instance = work(api, instance, "case_discussion", FH_TM, reviewedOn="2027-01-13", progress="Good",
                    caseDecision="continue")
    assert active(instance, "case_discussion")["due"].startswith("2027-02-10")
    instance = work(api, instance, "case_discussion", FH_TM, reviewedOn="2027-02-10", progress="Goals met",
                    caseDecision="close")
    instance = close_case(api, instance, manager=FH_TM, worker=EHP)
    assert instance["variables"]["outcome"] == "closed" and instance["activeTasks"] == []


def test_a_group_response_needs_no_further_assessment(api):
    instance = family_hub_initial(api, family_hub_case(api), response="group")
    assert activities(instance) == ["family_plan", "see_child"]


def test_family_hub_step_up_to_families_first(api):
    instance = family_hub_assessed(api, family_hub_initial(api, family_hub_case(api)))
    instance = work(api, instance, "case_discussion", FH_TM, reviewedOn="2027-01-13", progress="Worse",
                    caseDecision="step_up")
    instance = work(api, instance, "decide_step_up", FH_TM, stepUpRoute="weekly_meeting", stepUpReasons="Neglect")
    recorded(api, "2027-01-20")
    instance = work(api, instance, "step_up_meeting", FH_TM, requestFormSent=True, meetingHeldOn="2027-01-20",
                    stepUpDecision="agreed", stepUpAgreedOn="2027-01-20")
    assert active(instance, "start_step_up")["due"] == "2027-01-21" + END_OF
    instance = work(api, instance, "start_step_up", FH_TM, stepUpTeam="Families First", caseNoteAdded=True)
    assert instance["variables"]["outcome"] == "stepped_up_families_first"


# -- a case that lives for years -------------------------------------------------------

def _state(app, instance_id):
    with app.app_context():
        state = db.session.get(ProcessInstance, instance_id).state
        db.session.rollback()
        return state


def _tasks_in(state):
    return len(state["tasks"]) + sum(len(sp["tasks"]) for sp in state.get("subprocesses", {}).values())


def test_two_hundred_taf_review_cycles(api, app):
    instance = initial_work(api, ifst_case(api))
    sizes = {}
    for cycle in range(1, 201):
        # Reviews on one day, the children seen and the family contacted once, at the first.
        instance = taf_review(api, instance, held="2027-01-20", in_touch=cycle == 1)
        if cycle in (1, 200):
            state = _state(app, instance["id"])
            sizes[cycle] = (_tasks_in(state), len(json.dumps(state)))
    # The engine state after the 200th review holds the same tasks as after the first.
    assert sizes[200][0] == sizes[1][0]
    assert sizes[200][1] < sizes[1][1] + 200 * 60
    assert activities(instance) == ["family_contact", "request_family_worker", "see_child", "taf_review"]
    instance = close_case(api, taf_review(api, instance, decision="close"))
    assert instance["variables"]["outcome"] == "closed"
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert sum(1 for e in history if e["type"] == "task_completed" and e["activityId"] == "taf_review") == 201


# -- the remaining branches ------------------------------------------------------------

@pytest.mark.parametrize("steps,next_step", [
    ([("sehtw_discussion", SEHTW, {"thresholdOutcome": "early_help", "sehtwNotes": "Agreed"})], "ifst_allocation"),
    ([("sehtw_discussion", SEHTW, {"thresholdOutcome": "no_agreement", "sehtwNotes": "-"}),
      ("ops_review", OPS, {"thresholdOutcome": "early_help", "opsManagementOversight": "Upheld"})],
     "ifst_allocation"),
    ([("sehtw_discussion", SEHTW, {"thresholdOutcome": "no_agreement", "sehtwNotes": "-"}),
      ("ops_review", OPS, {"thresholdOutcome": "not_early_help", "opsManagementOversight": "-"}),
      ("first_contact_conversation", OPS, {"thresholdOutcome": "safeguarding", "firstContactNotes": "Agreed"})],
     "safeguarding_procedures"),
    ([("sehtw_discussion", SEHTW, {"thresholdOutcome": "no_agreement", "sehtwNotes": "-"}),
      ("ops_review", OPS, {"thresholdOutcome": "not_early_help", "opsManagementOversight": "-"}),
      ("first_contact_conversation", OPS, {"thresholdOutcome": "early_help", "firstContactNotes": "Agreed"})],
     "ifst_allocation"),
    ([("sehtw_discussion", SEHTW, {"thresholdOutcome": "no_agreement", "sehtwNotes": "-"}),
      ("ops_review", OPS, {"thresholdOutcome": "not_early_help", "opsManagementOversight": "-"}),
      ("first_contact_conversation", OPS, {"thresholdOutcome": "no_agreement", "firstContactNotes": "-"}),
      ("strategic_decision", STRATEGIC, {"thresholdOutcome": "safeguarding", "strategicManagementOversight": "-"})],
     "safeguarding_procedures"),
], ids=["step-2-agreed", "step-3-upheld", "step-4-safeguarding", "step-4-early-help", "step-6-safeguarding"])
def test_every_way_out_of_the_threshold_discussion(api, steps, next_step):
    instance = work(api, challenge(api, triage(api, start(api))), "interim_support", IFST_TM,
                    interimSupport="Visits continue")
    for activity, user, variables in steps:
        instance = work(api, instance, activity, user, **variables)
    assert activities(instance) == [next_step]


def test_step_down_not_agreed_goes_back_to_taf_reviews(api):
    instance = taf_review(api, initial_work(api, ifst_case(api)), decision="step_down_family_hub")
    instance = work(api, instance, "step_down_meeting", IFST_TM, familyAndTafAgree=True, meetingHeldOn="2027-01-27",
                    stepDownDecision="not_agreed", outstandingWork="Too soon")
    assert "taf_review" in activities(instance)


def test_ifst_step_up_agreed_at_the_weekly_meeting(api):
    instance = taf_review(api, initial_work(api, ifst_case(api)), decision="step_up")
    instance = work(api, instance, "decide_step_up", IFST_TM, stepUpRoute="weekly_meeting", stepUpReasons="Drift")
    response = complete(api, instance, "step_up_meeting", IFST_TM, requestFormSent=True, meetingHeldOn="2027-01-27",
                        stepUpDecision="agreed")
    assert response.json["error"]["details"] == {"stepUpAgreedOn": ["Enter the date step up was agreed"]}
    recorded(api, "2027-01-27")
    instance = work(api, instance, "step_up_meeting", IFST_TM, requestFormSent=True, meetingHeldOn="2027-01-27",
                    stepUpDecision="agreed", stepUpAgreedOn="2027-01-27")
    instance = work(api, instance, "start_step_up", IFST_TM, stepUpTeam="Families First", caseNoteAdded=True)
    assert instance["variables"]["outcome"] == "stepped_up_families_first"


def test_family_hub_consent_refused_and_non_engagement_close(api):
    refused = work(api, family_hub_case(api), "gain_consent", EHP, pvpRegisterChecked=True, consent="refused")
    assert activities(refused) == ["agree_closure"]
    instance = family_hub_initial(api, family_hub_case(api))
    instance = work(api, instance, "see_child", EHP, visitOutcome="access_denied")
    review = active(instance, "non_engagement_review")
    instance = work(api, instance, "non_engagement_review", FH_TM, harmMatrixAnalysis="Repeated refusals",
                    engagementDecision="close")
    assert review["id"] not in [t["id"] for t in instance["activeTasks"]]
    assert "agree_closure" in activities(instance)
    instance = close_case(api, instance, manager=FH_TM, worker=EHP)
    assert instance["variables"]["outcome"] == "closed" and instance["activeTasks"] == []


def test_family_hub_step_up_to_ifst_not_agreed_carries_on(api):
    instance = family_hub_assessed(api, family_hub_initial(api, family_hub_case(api)))
    instance = work(api, instance, "case_discussion", FH_TM, reviewedOn="2027-01-13", progress="Slipping",
                    caseDecision="step_up_ifst")
    instance = work(api, instance, "step_up_ifst_meeting", FH_TM, assessmentFinalised=True,
                    meetingHeldOn="2027-01-20", stepUpDecision="not_agreed")
    assert "case_discussion" in activities(instance)


# -- every child of the family, each on their own cadence --------------------------------

FAMILY = [{"childId": "C-1", "name": "Amy", "dateOfBirth": "2026-06-01"},  # under one
          {"childId": "C-2", "name": "Ben", "dateOfBirth": "2023-05-01"},  # 3
          {"childId": "C-3", "name": "Cara", "dateOfBirth": "2019-03-01"}]  # 7


def child_task(instance, activity_id, child_id):
    """The active task of ``activity_id`` for one child, found by the child named in it."""
    matches = [t for t in instance["activeTasks"] if t["activityId"] == activity_id and f"({child_id})" in t["name"]]
    assert len(matches) == 1, f"{activity_id} for {child_id}: {[t['name'] for t in instance['activeTasks']]}"
    return matches[0]


def see(api, instance, child_id, **variables):
    return api.as_(KW).post(f"/tasks/{child_task(instance, 'see_child', child_id)['id']}/complete",
                            {"variables": variables})


def due_dates(instance, activity_id="see_child"):
    return {t["name"]: t["due"] for t in instance["activeTasks"] if t["activityId"] == activity_id}


def test_each_child_of_the_family_is_seen_on_their_own_cadence(api):
    instance = ifst_case(api, children=FAMILY)  # first home visit: 2026-12-03
    assert due_dates(instance) == {"See Amy (C-1)": "2026-12-17" + END_OF, "See Ben (C-2)": "2027-01-05" + END_OF,
                                   "See Cara (C-3)": "2027-01-05" + END_OF}
    assert child_task(instance, "see_child", "C-1")["documentation"].startswith("See Amy (child C-1 of the family)")
    # Seen alone if 5 or over: Cara is 7, Ben 3.
    not_alone = {"visitOutcome": "seen", "childSeenOn": "2026-12-10", "seenAlone": False}
    recorded(api, "2026-12-10")
    response = see(api, instance, "C-3", **not_alone)
    assert response.status_code == 422 and response.json["error"]["details"] == ALONE_REASON
    response = see(api, instance, "C-2", **not_alone)
    assert response.status_code == 200, response.json
    instance = response.json
    # Seeing Ben starts his next 20 working days from the visit; the others' stay.
    assert due_dates(instance) == {"See Amy (C-1)": "2026-12-17" + END_OF, "See Ben (C-2)": "2027-01-12" + END_OF,
                                   "See Cara (C-3)": "2027-01-05" + END_OF}
    instance = see(api, instance, "C-3", **not_alone, notSeenAloneReason="Asleep; seen alone at school").json
    assert due_dates(instance)["See Cara (C-3)"] == "2027-01-12" + END_OF
    assert due_dates(instance)["See Amy (C-1)"] == "2026-12-17" + END_OF


def test_each_child_not_seen_in_time_escalates_on_their_own(api, timers_run_due):
    instance = ifst_case(api, children=FAMILY)
    recorded(api, "2026-12-10")
    instance = see(api, instance, "C-2", visitOutcome="seen", childSeenOn="2026-12-10", seenAlone=True).json
    timers_run_due("2026-12-18T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert [t["name"] for t in instance["activeTasks"] if t["activityId"] == "child_not_seen"] == [
        "Amy (C-1) not seen in time: follow up"]
    assert child_task(instance, "child_not_seen", "C-1")["candidateGroups"] == ["durham-ifst-tm", "durham-fh-tm"]
    timers_run_due("2027-01-06T00:00:00+00:00")  # Cara's 20 days; Ben was seen later
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert sorted(t["name"] for t in instance["activeTasks"] if t["activityId"] == "child_not_seen") == [
        "Amy (C-1) not seen in time: follow up", "Cara (C-3) not seen in time: follow up"]
    timers_run_due("2027-01-13T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert len([t for t in instance["activeTasks"] if t["activityId"] == "child_not_seen"]) == 3
    # Seeing Amy (on Mon 11 Jan, recorded on the 13th) closes her follow-up only.
    recorded(api, "2027-01-13")
    instance = see(api, instance, "C-1", visitOutcome="seen", childSeenOn="2027-01-11", seenAlone=True).json
    assert sorted(t["name"] for t in instance["activeTasks"] if t["activityId"] == "child_not_seen") == [
        "Ben (C-2) not seen in time: follow up", "Cara (C-3) not seen in time: follow up"]


def test_a_malformed_family_is_refused_at_the_start(api):
    variables = {"childId": "C-50", "familyId": "F-50", "requestReceivedAt": "2026-11-30T10:00:00Z",
                 "requester": "parent"}
    response = api.post("/process-definitions/durham_one_point/start", {"variables": {
        **variables, "children": [{"childId": "C-1", "dateOfBirth": "2026-02-30"}, {"name": "Ben"},
                                  {"childId": "C-1"}, "C-4", {"childId": "C-5", "born": "2020-01-01"}]}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"children": [
        "Child 1: dateOfBirth must be a real date as YYYY-MM-DD",
        "Child 2 has no childId",
        "Child 3 has the same childId as child 1 (C-1)",
        "Child 4 must be an object with a childId",
        "Child 5: 'born' is not one of childId, dateOfBirth, name",
    ]}
    response = api.post("/process-definitions/durham_one_point/start",
                        {"variables": {**variables, "children": {"childId": "C-1"}}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "children": ["Enter the family's children as a list of objects with a childId"]}


def test_without_children_the_family_is_the_one_child(api):
    instance = ifst_case(api, childDateOfBirth="2019-03-01")
    assert due_dates(instance) == {"See C-50": "2027-01-05" + END_OF}
    assert instance["variables"]["familyChildren"] == [{"childId": "C-50", "dateOfBirth": "2019-03-01"}]


def test_one_childs_non_engagement_ends_every_cadence(api):
    instance = ifst_case(api, children=FAMILY)
    instance = see(api, instance, "C-2", visitOutcome="access_denied").json
    instance = work(api, instance, "non_engagement_review", IFST_TM, harmMatrixAnalysis="Refusals",
                    engagementDecision="step_up")
    assert "see_child" not in activities(instance) and "child_not_seen" not in activities(instance)
    assert not [t for t in instance["timers"] if t["activityId"] == "visit_overdue"]
    active(instance, "decide_step_up")


def test_the_case_closing_ends_all_three_cadences(api, timers_run_due):
    instance = initial_work(api, ifst_case(api, children=FAMILY))
    timers_run_due("2026-12-18T00:00:00+00:00")  # Amy's follow-up open too
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert len(due_dates(instance)) == 3 and "child_not_seen" in activities(instance)
    # Amy's timer has fired; Ben's and Cara's wait.
    assert len([t for t in instance["timers"] if t["activityId"] == "visit_overdue"]) == 2
    instance = close_case(api, taf_review(api, instance, decision="close"))
    assert instance["status"] == "completed" and instance["variables"]["outcome"] == "closed"
    assert instance["activeTasks"] == [] and instance["timers"] == []


def test_keep_engaging_with_one_child_leaves_the_others_as_they_were(api):
    instance = ifst_case(api, children=FAMILY)
    instance = see(api, instance, "C-2", visitOutcome="access_denied").json
    instance = work(api, instance, "non_engagement_review", IFST_TM, harmMatrixAnalysis="First refusal",
                    engagementDecision="continue")
    assert due_dates(instance) == {"See Amy (C-1)": "2026-12-17" + END_OF, "See Ben (C-2)": "2027-01-05" + END_OF,
                                   "See Cara (C-3)": "2027-01-05" + END_OF}


def test_seeing_a_family_of_three_many_times_keeps_the_state_flat(api, app):
    instance = ifst_case(api, children=FAMILY)
    recorded(api, "2026-12-10")
    sizes = {}
    for visit in range(1, 41):
        for child in ("C-1", "C-2", "C-3"):
            instance = see(api, instance, child, visitOutcome="seen", childSeenOn="2026-12-10", seenAlone=True).json
        if visit in (1, 40):
            state = _state(app, instance["id"])
            sizes[visit] = (_tasks_in(state), len(json.dumps(state)))
    assert sizes[40][0] == sizes[1][0]
    # Each visit leaves only an empty place in its loop's count of iterations (4 bytes).
    assert sizes[40][1] < sizes[1][1] + 40 * 3 * 6


def test_a_family_hub_family_non_engagement_on_one_child_closes_them_all(api):
    instance = triage(api, start(api, children=FAMILY), needs="multiple", headline=3)
    instance = work(api, instance, "fh_allocation", FH_TM, allocationDecision="allocate", leadProfessional=EHP,
                    allocationSummary="Parenting support")
    instance = family_hub_initial(api, instance)
    assert sorted(due_dates(instance)) == ["See Amy (C-1)", "See Ben (C-2)", "See Cara (C-3)"]
    instance = api.as_(EHP).post(f"/tasks/{child_task(instance, 'see_child', 'C-3')['id']}/complete",
                                 {"variables": {"visitOutcome": "access_denied"}}).json
    instance = work(api, instance, "non_engagement_review", FH_TM, harmMatrixAnalysis="Repeated refusals",
                    engagementDecision="close")
    assert "see_child" not in activities(instance) and "agree_closure" in activities(instance)
    instance = close_case(api, instance, manager=FH_TM, worker=EHP)
    assert instance["variables"]["outcome"] == "closed"
    assert instance["activeTasks"] == [] and instance["timers"] == []
