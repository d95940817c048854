"""Team scope: a user sees the children their teams hold or held and the cases they work;
anything else answers 404 exactly as if it did not exist, and the attempt is audited. An
action their role forbids on something they may see answers 403, audited too."""
from __future__ import annotations

import re

import pytest
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import User

from steps import active, work

SSF_TM, SOC_TM, HUB, HUB_TM = "blackpool.ssf.tm", "blackpool.soc.tm", "blackpool.hub", "blackpool.hub.tm"
CONTACT = dict(childId="BP-9", contactReceivedAt="2026-12-01T08:00:00Z", referrer="School DSL", levelOfNeed=3,
               consent=True, section37Request=True, transferInConference=False, policeProtection=False,
               knownToTeams=False, exploitationRisk=False, complexNeeds="none", safeguardingConcern=False,
               homeless16or17=False, preBirth=False, significantHistory=False)
UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def ssf_case(api):
    """A contact the Hub sends to SSF (a section 37 request): SSF now holds BP-9 in the
    register, and the case has its referral outcome letter."""
    api.post("/families", {"id": "F-9"})
    api.post("/children", {"id": "BP-9", "familyId": "F-9"})
    started = api.post("/process-definitions/blackpool_front_door/start",
                       {"businessKey": "CON-9", "variables": CONTACT})
    assert started.status_code == 201, started.json
    instance = work(api, started.json, "confirm_threshold", HUB_TM, thresholdRationale="Section 37 request")
    instance = work(api, instance, "initial_management_oversight", SSF_TM, allocatedWorker="worker.9",
                    allocatedWorkerContact="01253 000009", managementOversight="Allocated")
    (document,) = api.get(f"/process-instances/{instance['id']}/documents").json
    return instance, document


def _same_404(hidden, missing, hidden_id, missing_id):
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == {"error": {**missing.json["error"],
                                     "message": missing.json["error"]["message"].replace(missing_id, hidden_id)}}


def test_a_team_that_never_held_the_child_sees_nothing_of_them(api, ssf_case):
    instance, document = ssf_case
    outsider = api.as_(SOC_TM)
    pairs = [  # (path of the hidden thing, path of one that does not exist, the ids in them)
        ("/children/BP-9", "/children/NOBODY", "BP-9", "NOBODY"),
        ("/children/BP-9/history", "/children/NOBODY/history", "BP-9", "NOBODY"),
        ("/children/BP-9/documents", "/children/NOBODY/documents", "BP-9", "NOBODY"),
        ("/families/F-9", "/families/NOFAMILY", "F-9", "NOFAMILY"),
        (f"/process-instances/{instance['id']}", f"/process-instances/{UNKNOWN}", instance["id"], UNKNOWN),
        (f"/process-instances/{instance['id']}/history", f"/process-instances/{UNKNOWN}/history",
         instance["id"], UNKNOWN),
        (f"/process-instances/{instance['id']}/documents", f"/process-instances/{UNKNOWN}/documents",
         instance["id"], UNKNOWN),
        (f"/documents/{document['id']}", f"/documents/{UNKNOWN}", document["id"], UNKNOWN),
        (f"/documents/{document['id']}/html", f"/documents/{UNKNOWN}/html", document["id"], UNKNOWN),
        (f"/documents/{document['id']}/pdf", f"/documents/{UNKNOWN}/pdf", document["id"], UNKNOWN),
    ]
    for hidden_path, missing_path, hidden_id, missing_id in pairs:
        _same_404(outsider.get(hidden_path), outsider.get(missing_path), hidden_id, missing_id)
    assert outsider.get("/process-instances").json == []
    assert outsider.get("/process-instances", businessKey="CON-9").json == []
    cancel = outsider.post(f"/process-instances/{instance['id']}/cancel", {"reason": "x"})
    assert cancel.status_code == 404
    # Every attempt is in the audit, against the case or the child.
    denied = [e for e in api.get(f"/process-instances/{instance['id']}/history").json if e["type"] == "access_denied"]
    assert {e["user"] for e in denied} == {SOC_TM} and all(e["details"]["answer"] == "not_found" for e in denied)
    assert len(denied) == 7  # the case, its history and documents, the letter three ways, the cancel
    child_denied = [e for e in api.get("/children/BP-9/history").json if e["type"] == "access_denied"]
    assert len(child_denied) >= 3 and {e["user"] for e in child_denied} == {SOC_TM}


def test_the_team_holding_the_child_and_those_who_worked_the_case_see_it(api, ssf_case):
    instance, document = ssf_case
    for user in (SSF_TM, HUB, HUB_TM, "blackpool.service.manager", "front.door", "admin"):
        reader = api.as_(user)
        assert reader.get(f"/process-instances/{instance['id']}").status_code == 200, user
        assert reader.get("/children/BP-9").status_code == 200, user
        assert reader.get(f"/documents/{document['id']}/pdf").status_code == 200, user
        assert instance["id"] in [i["id"] for i in reader.get("/process-instances").json], user
        assert reader.get("/families/F-9").json["children"] == ["BP-9"], user


def test_a_team_that_held_the_child_before_still_sees_them(api):
    api.post("/children", {"id": "BP-8"})
    api.post("/children/BP-8/episodes", {"team": "ast", "status": "assessment", "startedAt": "2026-01-05T09:00:00Z",
                                         "endedAt": "2026-03-01T09:00:00Z"})
    assert api.as_("blackpool.ast.sw").get("/children/BP-8").status_code == 200
    assert api.as_(SSF_TM).get("/children/BP-8").status_code == 404


def test_a_case_nobody_of_the_team_worked_is_hidden_from_another_council(api, ssf_case):
    instance, _ = ssf_case
    assert api.as_("halton.dat.sw").get(f"/process-instances/{instance['id']}").status_code == 404
    assert api.as_("nel.ai.sw1").get("/children/BP-9").status_code == 404


def test_reads_of_a_childs_case_are_audited_with_who_and_what(api, ssf_case):
    instance, _ = ssf_case
    reader = api.as_(SSF_TM)
    reader.get(f"/process-instances/{instance['id']}")
    reader.get(f"/process-instances/{instance['id']}/history")
    reader.get("/children/BP-9")
    history = api.get(f"/process-instances/{instance['id']}/history").json
    viewed = [(e["user"], e["details"]["what"]) for e in history if e["type"] == "case_viewed"]
    assert (SSF_TM, "instance") in viewed and (SSF_TM, "history") in viewed
    child_events = api.get("/children/BP-9/history").json
    assert any(e["type"] == "child_viewed" and e["user"] == SSF_TM for e in child_events)
    assert any(e["type"] == "case_viewed" and e["user"] == SSF_TM for e in child_events)


def test_an_action_the_role_forbids_on_a_visible_case_is_403_and_audited(api, ssf_case):
    instance, _ = ssf_case
    letter_task = active(instance, "outcome_letter")
    # The SSF manager sees the case (their team holds the child) but the letter is the Hub's.
    response = api.as_(SSF_TM).post(f"/tasks/{letter_task['id']}/complete",
                                    {"variables": {"outcomeLetterSentOn": "2026-12-02"}})
    assert response.status_code == 403
    assert api.as_(SSF_TM).get(f"/tasks/{letter_task['id']}").status_code == 200
    deploy = api.as_(SSF_TM).post("/deployments", data={}, content_type="multipart/form-data")
    assert deploy.status_code == 403
    denied = [e for e in api.get(f"/process-instances/{instance['id']}/history").json if e["type"] == "access_denied"]
    assert [e["user"] for e in denied] == [SSF_TM] and "complete" in denied[0]["details"]["action"]


# -- the web inbox answers the same way ---------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture
def browser(app):
    with app.app_context():
        for user_id in (SSF_TM, SOC_TM):
            user = db.session.get(User, user_id)
            user.password_hash = generate_password_hash(PASSWORD)
            user.failed_sign_ins, user.locked_until = 0, None
        db.session.commit()
    return app.test_client()


def _sign_in(client, user):
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/sign-in", data={"username": user, "password": PASSWORD, "csrf_token": token}).status_code == 302


def test_case_pages_and_documents_follow_the_same_scope(browser, api, ssf_case):
    instance, document = ssf_case
    _sign_in(browser, SOC_TM)
    for path in (f"/cases/{instance['id']}", f"/cases/{instance['id']}/diagrams/blackpool_front_door.bpmn",
                 f"/documents/{document['id']}.pdf", f"/tasks/{active(instance, 'outcome_letter')['id']}"):
        assert browser.get(path).status_code == 404, path
    browser.post("/sign-out", data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', browser.get("/").get_data(as_text=True)).group(1)})
    _sign_in(browser, SSF_TM)
    page = browser.get(f"/cases/{instance['id']}")
    assert page.status_code == 200 and "BP-9" in page.get_data(as_text=True)
    assert browser.get(f"/documents/{document['id']}.pdf").status_code == 200


def test_decisions_do_not_reveal_what_the_register_holds_about_a_hidden_child(api, ssf_case):
    variables = {**CONTACT, "section37Request": False}
    hidden = api.as_(SOC_TM).post("/decisions/blackpool_hub_route/evaluate", {"variables": variables})
    assert hidden.status_code == 404
    seen = api.as_(SSF_TM).post("/decisions/blackpool_hub_route/evaluate", {"variables": variables})
    assert seen.status_code == 200 and seen.json["route"] == "redirect_open_team"


def test_reading_a_task_or_a_document_is_recorded_too(api, browser, ssf_case):
    instance, document = ssf_case
    letter_task = active(instance, "outcome_letter")
    reader = api.as_(SSF_TM)
    assert reader.get(f"/tasks/{letter_task['id']}").status_code == 200
    assert reader.get(f"/documents/{document['id']}/pdf").status_code == 200
    _sign_in(browser, SSF_TM)
    assert browser.get(f"/documents/{document['id']}.html").status_code == 200
    history = api.get(f"/process-instances/{instance['id']}/history").json
    viewed = [e["details"]["what"] for e in history if e["type"] == "case_viewed" and e["user"] == SSF_TM]
    assert {"task", "document pdf", "document html"} <= set(viewed)
    child_events = api.get("/children/BP-9/history").json
    assert sum(1 for e in child_events if e["type"] == "case_viewed" and e["user"] == SSF_TM) >= 3
