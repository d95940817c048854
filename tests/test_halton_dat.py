"""Halton's Duty and Assessment Team through the API: allocation by halton_sap_allocation
(with the register answering sibling and closure questions), the Single Assessment with its
38-day checkpoint and 45-day limit, the Community Support Worker referral, and every outcome
with its transfer point, the Appendix 5 quality assurance every transfer passes, the transfer
summary and letter, and the case register following the child."""
from __future__ import annotations

import pytest
import steps
from steps import active, activities, complete, episodes, from_inbox, work

ICART, SW, PL, PM, CIN_TM = "halton.icart", "halton.dat.sw", "halton.dat.pl", "halton.pm", "halton.cin.tm"
SENIOR, CIC_TM, EARLY_HELP = "halton.senior.manager", "halton.cic.tm", "halton.early.help"
RECEIVING = {"cin": CIN_TM, "cic": CIC_TM}
END_OF = "T23:59:59+00:00"
TRANSFER_ON = "2027-01-05T00:00:00+00:00"  # QA's transferOn: the day the transfer takes effect
QA = dict(childDetailsUpToDate=True, familyDetailsUpToDate=True, relationshipsUpToDate=True,
          genogramCompletedOn="2026-12-10", singleAssessmentShared=True, lastVisitOn="2026-12-15",
          chronologyUpToDate=True, lastSupervisionOn="2026-12-14", lastManagementOversightOn="2026-12-15",
          categoryThreshold="Level 3", transferRationale="Needs longer-term CIN support", receivingWorker="Ali Khan",
          receivingWorkerContact="0151 000 0000", transferOn="2027-01-05", transferAgreed="agreed")


def start(api, **change):
    variables = {"childId": "H-1", "familyId": "HF-1", "referralReceivedAt": "2026-11-30T10:00:00Z",
                 "transferInOnPlan": "none", **change}
    response = api.post("/process-definitions/halton_dat/start", {"businessKey": "HAL-1", "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def held_by(api):
    return steps.held_by(api, "H-1")


def assessed(api, outcome, csw=False):
    instance = work(api, start(api), "allocate_sap", PL, socialWorker=SW, communitySupportWorkerNeeded=csw)
    instance = work(api, instance, "single_assessment", SW, sapSummary="Needs assessed", recommendedOutcome=outcome)
    return work(api, instance, "authorise_sap", PL, sapOutcome=outcome, sapOversight="Agreed")


def transfer(api, instance, to="cin", **change):
    instance = work(api, instance, "transfer_quality_assurance", PL, transferTo=to, **{**QA, **change})
    return work(api, instance, "inform_family", SW, familyInformed=True, professionalsNotified=True)


def moved_on_the_transfer_date(api, team, status, transfer_on=TRANSFER_ON):
    """The register: DAT held the child until the agreed transfer date, the receiving team from it."""
    assert episodes(api, "H-1") == [("dat", "assessment", "2026-12-01T09:00:00+00:00", transfer_on),
                                    (team, status, transfer_on, None)]
    assert held_by(api) == [("dat", "assessment")]  # today is before the transfer date


def allocated(api, team, activity, transfer_on=TRANSFER_ON[:10]):
    """The receiving team's manager allocates the case from their inbox, by the transfer date."""
    listed, instance = from_inbox(api, RECEIVING[team], activity, receivingAllocatedTo="Ali Khan",
                                  receivingAllocatedOn=transfer_on)
    assert listed["candidateGroups"] == [f"halton-{team}-tm"] and listed["due"] == transfer_on + END_OF
    return instance


def test_the_cin_team_takes_the_assessment_when_a_sibling_is_open_to_it(api):
    api.post("/families", {"id": "HF-1"})
    api.post("/children", {"id": "H-2", "familyId": "HF-1"})
    api.post("/children/H-2/episodes", {"team": "cin", "status": "cin_plan", "startedAt": "2026-06-01T09:00:00Z"})
    instance = start(api)
    assert instance["variables"]["team"] == "cin" and "3.2" in instance["variables"]["reason"]
    assert active(instance, "cin_allocation")["candidateGroups"] == ["halton-cin-tm"]
    instance = work(api, instance, "cin_allocation", CIN_TM, cinSocialWorker="cin.sw1")
    assert instance["variables"]["outcome"] == "allocated_to_cin"
    assert held_by(api) == [("cin", "assessment")]


def test_single_assessment_deadlines_checkpoint_and_escalation(api, timers_run_due):
    instance = work(api, start(api), "allocate_sap", PL, socialWorker=SW, communitySupportWorkerNeeded=True)
    assert held_by(api) == [("dat", "assessment")]
    assert activities(instance) == ["csw_referral", "single_assessment"]
    assert active(instance, "single_assessment")["due"] == "2027-02-04" + END_OF  # 45 working days
    assert "1 fired" in timers_run_due("2027-01-28T00:00:00+00:00")  # day 38 ended on Wed 27 Jan
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert active(instance, "sap_checkpoint_review")["candidateGroups"] == ["halton-dat-pl"]
    assert "1 fired" in timers_run_due("2027-02-05T00:00:00+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert active(instance, "sap_overdue_escalation")["candidateGroups"] == ["halton-pm"]


def test_close(api):
    instance = work(api, assessed(api, "close"), "close_case", PL, closureRationale="Universal services")
    assert instance["variables"]["outcome"] == "closed" and held_by(api) == []


def test_child_in_need_plan_transfers_after_the_cin_meeting_with_qa_and_letters(api):
    instance = assessed(api, "cin_plan")
    instance = work(api, instance, "invite_cin_team", SW, cinMeetingOn="2026-12-17", cinTeamInvitedOn="2026-12-02")
    assert active(instance, "hold_cin_meeting")["due"] == "2026-12-17" + END_OF
    instance = work(api, instance, "hold_cin_meeting", SW, cinPlanAgreed=True)
    assert active(instance, "circulate_cin_minutes")["due"] == "2026-12-22" + END_OF  # 3 working days
    instance = work(api, instance, "circulate_cin_minutes", SW, cinMinutesCirculatedOn="2026-12-18")
    qa = active(instance, "transfer_quality_assurance")
    assert qa["candidateGroups"] == ["halton-dat-pl", "halton-pm"]
    response = complete(api, instance, "transfer_quality_assurance", PL, transferTo="cin",
                        **{**QA, "chronologyUpToDate": False})
    assert response.json["error"]["details"] == {"chronologyUpToDate": ["Bring the chronology up to date before transfer"]}
    instance = transfer(api, instance)
    moved_on_the_transfer_date(api, "cin", "cin_plan")
    assert activities(instance) == ["cin_receiving_allocation"]
    assert allocated(api, "cin", "cin_receiving_allocation")["variables"]["outcome"] == "transferred_cin"
    documents = {d["kind"]: d for d in api.get("/children/H-1/documents").json}
    assert set(documents) == {"transfer_summary", "transfer_letter"}
    letter = api.client.get(documents["transfer_letter"]["html"], headers=api._headers()).get_data(as_text=True)
    assert "Ali Khan" in letter and "5 January 2027" in letter and "Child in Need Team" in letter
    summary = api.client.get(documents["transfer_summary"]["html"], headers=api._headers()).get_data(as_text=True)
    assert "Needs longer-term CIN support" in summary and "No plan yet" in summary


def test_transfer_not_agreed_goes_to_senior_managers(api):
    instance = assessed(api, "cin_plan")
    instance = work(api, instance, "invite_cin_team", SW, cinMeetingOn="2026-12-17", cinTeamInvitedOn="2026-12-02")
    instance = work(api, instance, "hold_cin_meeting", SW, cinPlanAgreed=True)
    instance = work(api, instance, "circulate_cin_minutes", SW, cinMinutesCirculatedOn="2026-12-18")
    instance = work(api, instance, "transfer_quality_assurance", PL, transferTo="cin",
                    **{**QA, "transferAgreed": "not_agreed"})
    # Not the Principal Managers, who may be the ones who disagree: senior managers above them.
    assert active(instance, "senior_decision")["candidateGroups"] == ["halton-senior-managers"]
    assert complete(api, instance, "senior_decision", PM, seniorDecision="transfer",
                    seniorRationale="x").status_code == 403
    instance = work(api, instance, "senior_decision", SENIOR, seniorDecision="stay", seniorRationale="Direct work first")
    assert instance["variables"]["outcome"] == "kept_by_dat"
    assert held_by(api) == [("dat", "assessment")]


def test_senior_managers_can_transfer(api):
    instance = assessed(api, "cin_plan")
    instance = work(api, instance, "invite_cin_team", SW, cinMeetingOn="2026-12-17", cinTeamInvitedOn="2026-12-02")
    instance = work(api, instance, "hold_cin_meeting", SW, cinPlanAgreed=True)
    instance = work(api, instance, "circulate_cin_minutes", SW, cinMinutesCirculatedOn="2026-12-18")
    instance = work(api, instance, "transfer_quality_assurance", PL, transferTo="cin",
                    **{**QA, "transferAgreed": "not_agreed"})
    listed, instance = from_inbox(api, SENIOR, "senior_decision", seniorDecision="transfer",
                                  seniorRationale="Longer-term support needed")
    instance = work(api, instance, "inform_family", SW, familyInformed=True, professionalsNotified=True)
    moved_on_the_transfer_date(api, "cin", "cin_plan")
    assert allocated(api, "cin", "cin_receiving_allocation")["variables"]["outcome"] == "transferred_cin"


def test_a_transfer_dated_before_the_assessment_began_is_refused(api):
    instance = work(api, assessed(api, "section20"), "section20_review", SW, firstCicReviewOn="2026-12-20",
                    permanencePlan="permanence")
    instance = work(api, instance, "transfer_quality_assurance", PL, transferTo="cic",
                    **{**QA, "transferOn": "2026-11-02"})
    response = complete(api, instance, "inform_family", SW, familyInformed=True, professionalsNotified=True)
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"episode.at": [
        "must not be before 2026-12-01T09:00:00+00:00, when team dat started holding the child"]}
    assert episodes(api, "H-1") == [("dat", "assessment", "2026-12-01T09:00:00+00:00", None)]
    assert activities(api.get(f"/process-instances/{instance['id']}").json) == ["inform_family"]


@pytest.mark.parametrize("closed_at,team", [
    ("2026-10-01T09:00:00Z", "cin"),  # 2 months before today: back to the CIN team (3.3)
    ("2026-09-02T09:00:00Z", "cin"),  # 2.95 months
    ("2026-07-01T09:00:00Z", "dat"),  # 5 months
])
def test_a_child_closed_to_the_cin_team_recently_goes_back_to_it(api, closed_at, team):
    assert api.post("/children", {"id": "H-1"}).status_code == 201
    assert api.post("/children/H-1/episodes", {"team": "cin", "status": "cin_plan", "startedAt": "2026-03-02T09:00:00Z",
                                               "endedAt": closed_at}).status_code == 201
    instance = start(api)  # closedToCinWithinMonths not given: the register answers it
    assert "closedToCinWithinMonths" not in instance["variables"] and instance["variables"]["team"] == team
    if team == "cin":
        assert "3.3" in instance["variables"]["reason"] and activities(instance) == ["cin_allocation"]
    else:
        assert activities(instance) == ["allocate_sap"]


@pytest.mark.parametrize("meeting_outcome,expected,held", [
    ("early_help", "stepped_down_early_help", ("early-help", "early_help")),
    ("remain_level3", "transferred_cin", ("cin", "cin_plan")),
])
def test_early_help_cin_meeting(api, meeting_outcome, expected, held):
    instance = assessed(api, "early_help")
    instance = work(api, instance, "invite_early_help", SW, cinMeetingOn="2026-12-16", earlyHelpInvited="locality",
                    earlyHelpInvitedOn="2026-12-01")
    instance = work(api, instance, "hold_early_help_meeting", SW, earlyHelpOutcome=meeting_outcome)
    assert active(instance, "circulate_early_help_minutes")["due"].startswith("2026-12-30")  # 2 weeks
    instance = work(api, instance, "circulate_early_help_minutes", SW, earlyHelpMinutesCirculatedOn="2026-12-18")
    instance = transfer(api, instance, to="early-help" if meeting_outcome == "early_help" else "cin")
    moved_on_the_transfer_date(api, *held)
    if meeting_outcome == "early_help":
        # Early Help's first step is the one Appendix 2 names: the CAF, informed by the CIN minutes and plan.
        response = complete(api, instance, "early_help_caf", EARLY_HELP, earlyHelpSupport="caf_level2",
                            cafStartedOn="2027-01-06")
        assert response.json["error"]["details"] == {
            "cafRiskAssessment": ["The CAF must include the level 2 support required and a risk assessment"]}
        listed, instance = from_inbox(api, EARLY_HELP, "early_help_caf", earlyHelpSupport="caf_level2",
                                      cafStartedOn="2027-01-06", cafRiskAssessment=True)
        assert listed["candidateGroups"] == ["halton-early-help"]
    else:
        instance = allocated(api, "cin", "cin_receiving_allocation")
    assert instance["variables"]["outcome"] == expected


def test_early_help_meeting_finds_no_needs(api):
    instance = assessed(api, "early_help")
    instance = work(api, instance, "invite_early_help", SW, cinMeetingOn="2026-12-16", earlyHelpInvited="childrens_centre",
                    earlyHelpInvitedOn="2026-12-01")
    instance = work(api, instance, "hold_early_help_meeting", SW, earlyHelpOutcome="universal")
    instance = work(api, instance, "circulate_early_help_minutes", SW, earlyHelpMinutesCirculatedOn="2026-12-18")
    assert activities(instance) == ["close_case"]


def test_child_protection_plan_transfers_at_the_initial_core_group(api):
    instance = assessed(api, "child_protection")
    steps.recorded(api, "2026-12-17")  # each meeting is recorded the day it was held
    instance = work(api, instance, "section47_enquiry", SW, strategyDiscussionOn="2026-12-17", significantHarm="likely")
    assert active(instance, "icpc")["due"] == "2027-01-12" + END_OF  # 15 working days, over Christmas
    steps.recorded(api, "2027-01-11")
    instance = work(api, instance, "icpc", SW, icpcHeldOn="2027-01-11", icpcOutcome="cp_plan")
    assert active(instance, "initial_core_group")["due"] == "2027-01-25" + END_OF  # 10 working days
    steps.recorded(api, "2027-01-20")
    instance = work(api, instance, "initial_core_group", SW, coreGroupHeldOn="2027-01-20")
    # The core group is the point of transfer: agreed that day, to take effect on Mon 25 Jan.
    instance = transfer(api, instance, transferOn="2027-01-25")
    moved_on_the_transfer_date(api, "cin", "cp_plan", "2027-01-25T00:00:00+00:00")
    instance = allocated(api, "cin", "child_protection_receiving_allocation", "2027-01-25")
    assert instance["variables"]["outcome"] == "transferred_cin_cp_plan"


@pytest.mark.parametrize("harm,icpc_outcome,next_step", [
    ("likely", "not_at_risk", "post_icpc_cin_meeting"),
    ("not_likely", None, "invite_cin_team"),
])
def test_child_protection_routes_back_to_child_in_need(api, harm, icpc_outcome, next_step):
    instance = assessed(api, "child_protection")
    steps.recorded(api, "2026-12-17")  # each meeting is recorded the day it was held
    instance = work(api, instance, "section47_enquiry", SW, strategyDiscussionOn="2026-12-17", significantHarm=harm)
    if icpc_outcome:
        steps.recorded(api, "2027-01-11")
        instance = work(api, instance, "icpc", SW, icpcHeldOn="2027-01-11", icpcOutcome=icpc_outcome)
        assert active(instance, next_step)["due"] == "2027-01-25" + END_OF
        steps.recorded(api, "2027-01-20")
        instance = work(api, instance, next_step, SW, cinMeetingOn="2027-01-20")
        assert activities(instance) == ["transfer_quality_assurance"]
    else:
        assert activities(instance) == [next_step]


def test_emergency_order_transfers_at_the_initial_care_planning_meeting(api):
    instance = work(api, assessed(api, "emergency_order"), "legal_advice", SW, legalAdviceMeetingOn="2026-12-02",
                    proceedingsThreshold="met")
    steps.on(api, "2026-12-03T16:00:00Z")  # recorded half an hour after the order was made
    instance = work(api, instance, "initial_hearing", SW, orderMadeAt="2026-12-03T15:30:00Z")
    assert active(instance, "initial_care_planning")["due"] == "2026-12-06T15:30:00+00:00"  # 72 hours
    instance = work(api, instance, "initial_care_planning", SW, carePlanningMeetingOn="2026-12-05")
    instance = transfer(api, instance)
    moved_on_the_transfer_date(api, "cin", "child_in_care")
    instance = allocated(api, "cin", "emergency_receiving_allocation")
    assert instance["variables"]["outcome"] == "transferred_cin_child_in_care"


def test_emergency_threshold_not_met_goes_to_child_in_need(api):
    instance = work(api, assessed(api, "emergency_order"), "legal_advice", SW, legalAdviceMeetingOn="2026-12-02",
                    proceedingsThreshold="not_met")
    assert activities(instance) == ["invite_cin_team"]


@pytest.mark.parametrize("plan,team", [("rehabilitation", "cin"), ("permanence", "cic")])
def test_section_20_transfers_after_the_first_child_in_care_review(api, plan, team):
    instance = work(api, assessed(api, "section20"), "section20_review", SW, firstCicReviewOn="2026-12-20",
                    permanencePlan=plan)
    instance = transfer(api, instance, to=team)
    moved_on_the_transfer_date(api, team, "child_in_care")
    instance = allocated(api, team, "section20_receiving_allocation")
    assert instance["variables"]["outcome"] == "transferred_section20"


def test_cin_meetings_refuse_invitations_sent_without_their_notice(api):
    instance = assessed(api, "cin_plan")
    # Invited on 14 December: ten working days on, past Christmas and the substitute Boxing Day, is 30 December.
    late = complete(api, instance, "invite_cin_team", SW, cinMeetingOn="2026-12-29", cinTeamInvitedOn="2026-12-14")
    assert late.status_code == 422
    assert late.json["error"]["details"] == {"cinTeamInvitedOn": [
        "Invite the CIN team at least 10 working days before the CIN meeting, or set a later meeting date"]}
    instance = work(api, instance, "invite_cin_team", SW, cinMeetingOn="2026-12-30", cinTeamInvitedOn="2026-12-14")
    assert active(instance, "hold_cin_meeting")["due"] == "2026-12-30" + END_OF


def test_early_help_is_invited_two_weeks_before_the_cin_meeting(api):
    instance = assessed(api, "early_help")
    late = complete(api, instance, "invite_early_help", SW, cinMeetingOn="2026-12-14", earlyHelpInvited="locality",
                    earlyHelpInvitedOn="2026-12-01")
    assert late.status_code == 422 and list(late.json["error"]["details"]) == ["earlyHelpInvitedOn"]
    work(api, instance, "invite_early_help", SW, cinMeetingOn="2026-12-15", earlyHelpInvited="locality",
         earlyHelpInvitedOn="2026-12-01")


def test_a_meeting_or_order_cannot_be_recorded_later_than_today(api):
    # The ICPC's 15 working days, the core group's 10 and the care planning meeting's 72 hours
    # count from these: a date mistyped into the future would move them as far, silently.
    response = api.post("/process-definitions/halton_dat/start", {"variables": {
        "childId": "H-9", "familyId": "HF-9", "referralReceivedAt": "2027-11-30T10:00:00Z", "transferInOnPlan": "none"}})
    assert response.status_code == 422
    assert response.json["error"]["details"]["referralReceivedAt"] == ["Referral received at must be today or in the past"]
    instance = assessed(api, "child_protection")
    response = complete(api, instance, "section47_enquiry", SW, strategyDiscussionOn="2026-12-02", significantHarm="likely")
    assert response.json["error"]["details"] == {
        "strategyDiscussionOn": ["Date of the strategy discussion must be today or in the past"]}
    instance = work(api, instance, "section47_enquiry", SW, strategyDiscussionOn="2026-12-01", significantHarm="likely")
    response = complete(api, instance, "icpc", SW, icpcHeldOn="2026-12-02", icpcOutcome="cp_plan")
    assert response.json["error"]["details"] == {"icpcHeldOn": ["Date of the ICPC must be today or in the past"]}
