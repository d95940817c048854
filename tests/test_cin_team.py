"""The CIN team pilot through the API: entry by cin_team_entry, the CIN plan with its
3-monthly reviews and 4-6 weekly care team meetings, the 12-month drift check, and every way
out of the team, with the case register following the child."""
from __future__ import annotations

import pytest
import steps
from steps import active, activities, complete, episodes, from_inbox, work

TM, SW, SGCP, EARLY_HELP = "cin.tm", "cin.sw", "cin.sgcp.tm", "nel.early.help"
ALLOCATED_AT = "2026-12-01T09:00:00+00:00"  # the CIN team holds the child from its allocation (today)
CASE = dict(childId="CN-1", source="a_and_i", expectedSupportWeeks=20, previousInvolvementSameIssues=False,
            longTermEarlyHelpNotSustained=False, clearPlanWithOutcomes=True, edgeOfCare=False, cinManagerAgrees=False)


def start(api, **change):
    response = api.post("/process-definitions/cin_team/start", {"businessKey": "CIN-1", "variables": {**CASE, **change}})
    assert response.status_code == 201, response.json
    return response.json


def held_by(api):
    return steps.held_by(api, "CN-1")


def transferred(api):
    """An A&I case the register holds with the A&I team, transferred into the CIN team."""
    api.post("/children", {"id": "CN-1"})
    api.post("/children/CN-1/episodes", {"team": "nel-ai", "status": "assessment", "startedAt": "2026-10-01T09:00:00Z"})
    instance = start(api)
    assert instance["variables"]["decision"] == "transfer_to_cin"
    assert active(instance, "allocate")["candidateGroups"] == ["cin-tm"]
    return work(api, instance, "allocate", TM, cinSocialWorker=SW)


def review(api, instance, outcome, held="2027-03-01"):
    steps.recorded(api, held)  # recorded the day it was held; the story's clock moves on
    return work(api, instance, "cin_review", SW, reviewHeldOn=held, reviewProgress="7/10", reviewOutcome=outcome)


@pytest.mark.parametrize("change,outcome", [
    ({"expectedSupportWeeks": 8}, "stays_with_current_worker"),
    ({"edgeOfCare": True}, "stays_with_current_worker"),
])
def test_short_term_support_stays_with_the_current_worker(api, change, outcome):
    instance = start(api, **change)
    assert instance["status"] == "completed" and instance["variables"]["outcome"] == outcome


def test_no_clear_plan_no_transfer(api):
    instance = start(api, clearPlanWithOutcomes=False)
    instance = work(api, instance, "plan_required", TM, planFeedback="Outcomes are not measurable")
    assert instance["variables"]["outcome"] == "plan_required"


def test_transfer_from_a_and_i_into_the_cin_plan(api):
    instance = transferred(api)
    assert held_by(api) == [("cin", "cin_plan")]  # A&I's episode ended at the transfer
    assert activities(instance) == ["care_team_meeting", "cin_review"]
    assert active(instance, "cin_review")["assignee"] == SW
    assert active(instance, "cin_review")["due"].startswith("2027-03-01")  # 3 months
    assert active(instance, "care_team_meeting")["due"].startswith("2027-01-12")  # 6 weeks
    steps.recorded(api, "2027-01-05")
    instance = work(api, instance, "care_team_meeting", SW, careTeamMeetingOn="2027-01-05",
                    careTeamScaling="6/10")
    assert active(instance, "care_team_meeting")["due"].startswith("2027-02-16")
    instance = review(api, instance, "continue")
    assert active(instance, "cin_review")["due"] == "2027-05-31T23:00:00+00:00"  # then 3-monthly (1 June, BST)


def test_irt_case_assessed_by_the_cin_team(api):
    instance = start(api, source="irt", previousInvolvementSameIssues=True, cinManagerAgrees=True)
    instance = work(api, instance, "allocate", TM, cinSocialWorker=SW)
    assert held_by(api) == [("cin", "assessment")]
    assert active(instance, "cin_assessment")["due"] == "2027-02-05T23:59:59+00:00"  # 45 working days
    steps.recorded(api, "2027-01-20")
    instance = work(api, instance, "cin_assessment", SW, assessmentCompletedOn="2027-01-20",
                    cinPlanOutcomes="School attendance above 90%")
    assert held_by(api) == [("cin", "cin_plan")]
    assert active(instance, "cin_review")["due"] == "2027-04-19T23:00:00+00:00"  # 3 months: 20 April (BST)


def test_plan_achieved_closes_the_case(api):
    instance = work(api, review(api, transferred(api), "plan_achieved"), "close_case", TM,
                    closureRationale="Outcomes met")
    assert instance["variables"]["outcome"] == "closed" and instance["activeTasks"] == []
    assert held_by(api) == []


def test_consent_withdrawn_needs_agencies_notified(api):
    instance = review(api, transferred(api), "consent_withdrawn")
    response = complete(api, instance, "consent_closure", SW, endingReviewHeld=False, agenciesNotified=False,
                        closureRationale="Parents withdrew consent")
    assert response.json["error"]["details"] == {"agenciesNotified": ["Notify the agencies that the case is closing"]}
    instance = work(api, instance, "consent_closure", SW, endingReviewHeld=False, agenciesNotified=True,
                    closureRationale="Parents withdrew consent; no significant risk")
    assert instance["variables"]["outcome"] == "closed_consent_withdrawn"


def test_step_down_to_early_help(api):
    instance = review(api, transferred(api), "step_down")
    steps.recorded(api, "2027-03-02")
    instance = work(api, instance, "step_down", SW, earlyHelpReferralOn="2027-03-02")
    # The register moves the child on the day of the referral, and Early Help has the next step.
    assert episodes(api, "CN-1")[1:] == [("cin", "cin_plan", ALLOCATED_AT, "2027-03-02T00:00:00+00:00"),
                                         ("early-help", "early_help", "2027-03-02T00:00:00+00:00", None)]
    listed, instance = from_inbox(api, EARLY_HELP, "early_help_allocation", receivingAllocatedTo="Pat EH",
                                  receivingAllocatedOn="2027-03-03")
    assert listed["candidateGroups"] == ["nel-early-help"]
    assert instance["variables"]["outcome"] == "stepped_down_early_help"


def test_section_47_to_a_cp_plan_transfers_to_sgcp_on_the_day_of_conference(api):
    instance = review(api, transferred(api), "section47")
    steps.recorded(api, "2027-03-15")
    instance = work(api, instance, "section47_enquiry", TM, icpcHeld=True, icpcHeldOn="2027-03-15",
                    icpcOutcome="cp_plan")
    # The register moves the child on the day of conference; SGCP allocates that day.
    assert episodes(api, "CN-1")[1:] == [("cin", "cin_plan", ALLOCATED_AT, "2027-03-15T00:00:00+00:00"),
                                         ("sgcp", "cp_plan", "2027-03-15T00:00:00+00:00", None)]
    listed, instance = from_inbox(api, SGCP, "transfer_sgcp", sgcpSocialWorker="sgcp.sw1")
    assert listed["candidateGroups"] == ["sgcp-tm"] and listed["due"] == "2027-03-15T23:59:59+00:00"
    assert instance["variables"]["outcome"] == "transferred_sgcp"


def test_section_47_without_a_plan_carries_on_under_cin(api):
    instance = review(api, transferred(api), "section47")
    instance = work(api, instance, "section47_enquiry", TM, icpcHeld=False)
    assert activities(instance) == ["care_team_meeting", "cin_review"]
    assert held_by(api) == [("cin", "cin_plan")]


def test_accommodated_transfers_at_the_child_in_care_meeting(api):
    instance = review(api, transferred(api), "accommodated")
    meeting = active(instance, "child_in_care_meeting")
    # 20 working days after the review on Mon 1 Mar 2027, over Easter: Wed 31 Mar (BST).
    assert meeting["assignee"] == SW and meeting["due"] == "2027-03-31T22:59:59+00:00"
    steps.recorded(api, "2027-03-22")
    instance = work(api, instance, "child_in_care_meeting", SW, childInCareMeetingOn="2027-03-22")
    assert episodes(api, "CN-1")[1:] == [("cin", "cin_plan", ALLOCATED_AT, "2027-03-22T00:00:00+00:00"),
                                         ("sgcp", "child_in_care", "2027-03-22T00:00:00+00:00", None)]
    listed, instance = from_inbox(api, SGCP, "sgcp_child_in_care_allocation", sgcpSocialWorker="sgcp.sw2")
    assert listed["candidateGroups"] == ["sgcp-tm"] and listed["due"] == "2027-03-22T23:59:59+00:00"
    assert instance["variables"]["outcome"] == "transferred_sgcp_child_in_care"


def test_twelve_months_on_a_plan_raises_a_drift_check(api, timers_run_due):
    instance = transferred(api)
    assert "1 fired" in timers_run_due("2027-12-01T09:00:01+00:00")
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert active(instance, "drift_review")["candidateGroups"] == ["cin-tm"]



@pytest.mark.parametrize("manager_agrees", [True, False])
def test_a_case_from_the_3_month_cin_review_needs_the_cin_managers_agreement(api, manager_agrees):
    """Entry 3: a short-term case that its 3-month CIN review finds needs longer-term input
    transfers with the agreement of the CIN team's manager, who is invited to the review."""
    api.post("/children", {"id": "CN-1"})
    api.post("/children/CN-1/episodes", {"team": "nel-ai", "status": "cin_plan", "startedAt": "2026-09-01T09:00:00Z"})
    instance = start(api, source="cin_review", expectedSupportWeeks=26, cinManagerAgrees=manager_agrees)
    if not manager_agrees:
        assert instance["status"] == "completed" and instance["variables"]["outcome"] == "stays_with_current_worker"
        assert held_by(api) == [("nel-ai", "cin_plan")]
        return
    assert instance["variables"]["decision"] == "transfer_to_cin"
    work(api, instance, "allocate", TM, cinSocialWorker=SW)
    assert episodes(api, "CN-1") == [("nel-ai", "cin_plan", "2026-09-01T09:00:00+00:00", ALLOCATED_AT),
                                     ("cin", "cin_plan", ALLOCATED_AT, None)]


def test_the_start_asks_each_source_only_what_its_routes_decide_on(api):
    # An A&I team's transfer: the decision's A&I routes read the weeks, the plan and Edge of Care.
    a_and_i = {k: CASE[k] for k in ("childId", "source", "expectedSupportWeeks", "clearPlanWithOutcomes", "edgeOfCare")}
    response = api.post("/process-definitions/cin_team/start", {"businessKey": "CIN-2", "variables": a_and_i})
    assert response.status_code == 201, response.json
    assert response.json["variables"]["decision"] == "transfer_to_cin"
    response = api.post("/process-definitions/cin_team/start", {"variables": {**a_and_i, "source": "irt"}})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {
        "previousInvolvementSameIssues", "longTermEarlyHelpNotSustained", "cinManagerAgrees"}
    response = api.post("/process-definitions/cin_team/start", {"variables": {**a_and_i, "source": "cin_review"}})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"cinManagerAgrees"}


def test_a_review_or_meeting_cannot_be_recorded_later_than_today(api):
    # The next review (3 months) and care team meeting (6 weeks) count from these dates.
    instance = transferred(api)
    response = complete(api, instance, "cin_review", SW, reviewHeldOn="2027-03-01", reviewProgress="7/10",
                        reviewOutcome="continue")
    assert response.json["error"]["details"] == {"reviewHeldOn": ["Date of the review must be today or in the past"]}
    response = complete(api, instance, "care_team_meeting", SW, careTeamMeetingOn="2026-12-02", careTeamScaling="6/10")
    assert response.json["error"]["details"] == {"careTeamMeetingOn": ["Date of the meeting must be today or in the past"]}
    assert activities(api.get(f"/process-instances/{instance['id']}").json) == ["care_team_meeting", "cin_review"]
