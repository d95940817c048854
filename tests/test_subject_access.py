"""A subject access export through the API, on SQLite and PostgreSQL: everything held about
one child as JSON and as a PDF, for an admin only, audited; 404 when nothing is held."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader

from app.services import subject_access

HUB, HUB_TM, AST_TM = "blackpool.hub", "blackpool.hub.tm", "blackpool.ast.tm"
CONTACT = dict(contactReceivedAt="2026-12-01T08:00:00Z", referrer="School DSL", levelOfNeed=3,
               consent=True, section37Request=False, transferInConference=False, policeProtection=False,
               knownToTeams=False, exploitationRisk=False, complexNeeds="none", safeguardingConcern=False,
               homeless16or17=False, preBirth=False, significantHistory=False)


def start(api, child_id, business_key, **change):
    response = api.post("/process-definitions/blackpool_front_door/start",
                        {"businessKey": business_key, "variables": {**CONTACT, "childId": child_id, **change}})
    assert response.status_code == 201, response.json
    return response.json


def work(api, instance, activity_id, user, **variables):
    (task,) = [t for t in instance["activeTasks"] if t["activityId"] == activity_id]
    response = api.as_(user).post(f"/tasks/{task['id']}/complete", {"variables": variables})
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def case(api):
    """Child BP-1 of family F-1 (sibling BP-2), referred to AST, the letter written; and a
    referral of another child that must not appear in BP-1's export."""
    assert api.post("/families", {"id": "F-1", "name": "Smith household"}).status_code == 201
    for child_id, name in (("BP-1", "Alex Smith"), ("BP-2", "Sam Smith")):
        assert api.post("/children", {"id": child_id, "familyId": "F-1", "name": name,
                                      "dateOfBirth": "2016-05-04"}).status_code == 201
    instance = start(api, "BP-1", "CON-1")
    instance = work(api, instance, "confirm_threshold", HUB_TM, thresholdRationale="Level 3 needs")
    instance = work(api, instance, "initial_management_oversight", AST_TM, allocatedWorker="worker.1",
                    allocatedWorkerContact="01253 000000", managementOversight="Allocated for CAFA")
    assert api.get("/children/BP-1").status_code == 200  # a read, recorded against the child
    other = start(api, "BP-9", "CON-9")
    return instance, other


def test_the_json_export_holds_everything_about_the_child(api, case):
    instance, other = case
    response = api.as_("admin").get("/children/BP-1/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="subject-access-BP-1-')
    export = json.loads(response.get_data(as_text=True))
    assert export["childId"] == "BP-1" and export["exportedBy"] == "admin"
    assert export["child"]["name"] == "Alex Smith" and export["child"]["dateOfBirth"] == "2016-05-04"
    assert export["family"] == {"id": "F-1", "name": "Smith household", "siblings": ["BP-2"]}
    (episode,) = export["episodes"]
    assert (episode["team"], episode["processInstanceId"]) == ("ast", instance["id"])

    (held,) = export["processInstances"]  # BP-9's referral is not BP-1's
    assert held["id"] == instance["id"] and held["definitionKey"] == "blackpool_front_door"
    assert held["variables"]["childId"] == "BP-1" and held["variables"]["referrer"] == "School DSL"
    tasks = {t["activityId"]: t for t in held["tasks"]}
    oversight = tasks["initial_management_oversight"]
    assert oversight["status"] == "completed" and oversight["completedBy"] == AST_TM
    assert oversight["submitted"]["managementOversight"] == "Allocated for CAFA"
    assert tasks["outcome_letter"]["status"] == "active" and tasks["outcome_letter"]["submitted"] is None
    history = [e["type"] for e in held["history"]]
    assert history[0] == "instance_started" and "task_completed" in history and "document_produced" in history
    assert isinstance(held["timers"], list)

    child_history = [e["type"] for e in export["childHistory"]]
    assert child_history[:2] == ["child_registered", "episode_opened"] and "child_viewed" in child_history
    (letter,) = export["documents"]
    assert letter["kind"] == "referral_outcome_letter" and "worker.1" in letter["content"]
    assert other["id"] not in response.get_data(as_text=True)


def test_the_pdf_export_reads_as_the_same_content(api, case):
    response = api.as_("admin").get("/children/BP-1/export.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].endswith('.pdf"')
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages).split())
    for expected in ("Subject access export: child BP-1", "Alex Smith", "Smith household", "BP-2",
                     "blackpool_front_door", "Initial Management Oversight", "Allocated for CAFA",
                     "blackpool.ast.tm", "Referral outcome", "Dear School DSL", "01253 000000"):
        assert expected in text, expected


def test_a_child_only_a_pathway_names_is_exported_too(api):
    instance = start(api, "BP-5", "CON-5", levelOfNeed=1)
    assert api.get("/children/BP-5").status_code == 404  # not in the register
    export = api.as_("admin").get("/children/BP-5/export").json
    assert export["child"] is None and export["family"] is None and export["episodes"] == []
    assert [i["id"] for i in export["processInstances"]] == [instance["id"]]


def test_only_an_admin_exports_and_a_refusal_is_recorded(api, case):
    for user in ("front.door", "blackpool.hub.tm"):
        response = api.as_(user).get("/children/BP-1/export")
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
        assert api.as_(user).get("/children/BP-1/export.pdf").status_code == 403
    denied = [e for e in api.get("/children/BP-1/history").json if e["type"] == "access_denied"]
    assert [e["user"] for e in denied] == ["front.door", "front.door", "blackpool.hub.tm", "blackpool.hub.tm"]
    assert "export everything held about a child" in denied[0]["details"]["action"]


def test_a_child_nothing_is_held_about_is_404(api):
    response = api.as_("admin").get("/children/NOBODY/export")
    assert response.status_code == 404 and "nothing is held about child NOBODY" in response.json["error"]["message"]
    assert api.as_("front.door").get("/children/NOBODY/export").status_code == 403
    assert api.as_("admin").get("/children/NOBODY/export.pdf").status_code == 404  # a refusal holds nothing


def test_each_export_is_audited(api, case):
    instance, _ = case
    assert api.as_("admin").get("/children/BP-1/export").status_code == 200
    assert api.as_("admin").get("/children/BP-1/export.pdf").status_code == 200
    exports = [e for e in api.get("/children/BP-1/history").json if e["type"] == "subject_access_export"]
    assert [(e["user"], e["details"]["format"]) for e in exports] == [("admin", "json"), ("admin", "pdf")]
    assert exports[0]["details"]["instances"] == [instance["id"]] and exports[0]["details"]["documents"] == 1
    # The next export shows the earlier ones.
    later = api.as_("admin").get("/children/BP-1/export").json
    assert [e["type"] for e in later["childHistory"]].count("subject_access_export") == 2


def test_the_openapi_documents_both_exports(api):
    paths = api.client.get("/api/v1/openapi.json").json["paths"]
    assert {"403", "404"} <= set(paths["/api/v1/children/{child_id}/export"]["get"]["responses"])
    assert "/api/v1/children/{child_id}/export.pdf" in paths


def test_what_the_pdf_shows_is_escaped():
    export = {"childId": "<script>x</script>", "exportedBy": "admin", "child": None, "family": None,
              "episodes": [], "processInstances": [], "childHistory": [], "documents": []}
    html = subject_access.to_html(export, datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
