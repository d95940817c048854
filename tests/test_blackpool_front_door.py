"""Blackpool's Request for Support Hub through the API: every route of
blackpool_hub_route, the Hub Duty Team Manager's threshold decision, the receiving team's
Initial Management Oversight in that team's inbox, the case register recording the team
that now holds the child, and the referral outcome letter."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

HUB, HUB_TM = "blackpool.hub", "blackpool.hub.tm"
MANAGERS = {"ast": "blackpool.ast.tm", "ssf": "blackpool.ssf.tm", "soc": "blackpool.soc.tm",
            "sccn": "blackpool.sccn.tm", "tis": "blackpool.tis"}
CONTACT = dict(childId="BP-1", contactReceivedAt="2026-12-01T08:00:00Z", referrer="School DSL", levelOfNeed=3,
               consent=True, section37Request=False, transferInConference=False, policeProtection=False,
               knownToTeams=False, exploitationRisk=False, complexNeeds="none", safeguardingConcern=False,
               homeless16or17=False, preBirth=False, significantHistory=False)


def start(api, **change):
    response = api.post("/process-definitions/blackpool_front_door/start",
                        {"businessKey": "CON-1", "variables": {**CONTACT, **change}})
    assert response.status_code == 201, response.json
    return response.json


def task(instance, activity_id):
    (found,) = [t for t in instance["activeTasks"] if t["activityId"] == activity_id]
    return found


def work(api, instance, activity_id, user, **variables):
    response = api.as_(user).post(f"/tasks/{task(instance, activity_id)['id']}/complete", {"variables": variables})
    assert response.status_code == 200, response.json
    return response.json


def letter(api, instance):
    """The instance's one document: its HTML, and the text of its PDF."""
    (document,) = api.get(f"/process-instances/{instance['id']}/documents").json
    html = api.client.get(document["html"], headers=api._headers())
    pdf = api.client.get(document["pdf"], headers=api._headers())
    assert html.status_code == pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    return document, html.get_data(as_text=True), " ".join(text.split())


def confirm(api, instance, **change):
    return work(api, instance, "confirm_threshold", HUB_TM, **{"thresholdRationale": "Level 3 needs", **change})


@pytest.mark.parametrize("change,route,team,status,priority", [
    ({}, "ast", "ast", "assessment", "normal"),
    ({"levelOfNeed": 4}, "ast", "ast", "section47", "immediate"),
    ({"exploitationRisk": True}, "ast_awaken", "ast", "assessment", "normal"),
    ({"homeless16or17": True}, "homeless_protocol", "ast", "assessment", "immediate"),
    ({"section37Request": True}, "ssf", "ssf", "assessment", "normal"),
    ({"transferInConference": True}, "ssf", "ssf", "cp_plan", "normal"),
    ({"complexNeeds": "clear"}, "sccn", "sccn", "assessment", "normal"),
    ({"levelOfNeed": 2}, "tis", "tis", "early_help", "normal"),
    ({"previousTeam": "soc", "monthsSinceClosed": 2}, "previous_team", "soc", "assessment", "normal"),
])
def test_each_route_reaches_the_receiving_team_and_the_register(api, change, route, team, status, priority):
    instance = start(api, **change)
    assert instance["variables"]["route"] == route and instance["variables"]["priority"] == priority
    threshold = task(instance, "confirm_threshold")
    assert threshold["candidateGroups"] == ["blackpool-hub-tm"]
    assert (threshold["due"] is not None) == (priority == "immediate")
    instance = confirm(api, instance)
    oversight = task(instance, "initial_management_oversight")
    group = "blackpool-tis" if team == "tis" else f"blackpool-{team}-tm"
    assert oversight["candidateGroups"] == [group]
    assert api.as_(HUB).post(f"/tasks/{oversight['id']}/complete", {"variables": {}}).status_code == 403
    instance = work(api, instance, "initial_management_oversight", MANAGERS[team], allocatedWorker="worker.1",
                    allocatedWorkerContact="01253 000000", managementOversight="Allocated for CAFA")
    child = api.get("/children/BP-1").json
    assert [(h["team"], h["status"]) for h in child["heldBy"]] == [(team, status)]
    assert child["episodes"][0]["processInstanceId"] == instance["id"]
    assert task(instance, "outcome_letter")["candidateGroups"] == ["blackpool-hub"]
    document, html, text = letter(api, instance)
    assert document["kind"] == "referral_outcome_letter" and document["childId"] == "BP-1"
    assert "Dear School DSL" in html and "worker.1" in html and "01253 000000" in html
    assert "allocated" in text and "worker.1" in text and "BP-1" in text
    instance = work(api, instance, "outcome_letter", HUB, outcomeLetterSentOn="2026-12-02")
    if team == "ast":  # the Assessment and Support Team's own pathway carries on in the same case
        assert task(instance, "cafa")["assignee"] == "worker.1"
    else:
        assert instance["variables"]["outcome"] == "allocated"


def test_a_child_open_to_a_team_goes_to_that_teams_manager(api):
    # The register knows the child is open to SSF; the contact does not say so.
    api.post("/children", {"id": "BP-1"})
    api.post("/children/BP-1/episodes", {"team": "ssf", "status": "cin_plan", "startedAt": "2026-09-01T09:00:00Z"})
    instance = confirm(api, start(api))
    assert instance["variables"]["route"] == "redirect_open_team"
    note = task(instance, "open_team_note")
    assert note["candidateGroups"] == ["blackpool-ssf-tm"]
    instance = work(api, instance, "open_team_note", "blackpool.ssf.tm", actionTaken="Passed to the allocated worker")
    assert instance["variables"]["outcome"] == "redirected_to_open_team"
    assert [h["team"] for h in api.get("/children/BP-1").json["heldBy"]] == ["ssf"]


def test_advice_when_the_threshold_is_not_met(api):
    instance = confirm(api, start(api, levelOfNeed=1))
    assert task(instance, "advice")["candidateGroups"] == ["blackpool-hub"]
    instance = work(api, instance, "advice", HUB, adviceGiven="Parenting course at the Family Hub")
    document, html, text = letter(api, instance)
    assert "team is not met" in html and "team is not met" in text
    assert "Parenting course at the Family Hub" in text
    instance = work(api, instance, "advice_letter", HUB, outcomeLetterSentOn="2026-12-02")
    assert instance["variables"]["outcome"] == "advice"
    assert api.get("/children/BP-1").status_code == 404  # nothing for the register


def test_the_duty_manager_can_change_the_route(api):
    instance = confirm(api, start(api, levelOfNeed=2), route="ast", thresholdRationale="Worries escalating")
    assert task(instance, "initial_management_oversight")["candidateGroups"] == ["blackpool-ast-tm"]
