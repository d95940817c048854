"""The case register through the API: families, children, team episodes; the errors an
integrator gets for bad input; the history; and decision inputs filled from it."""
from __future__ import annotations

import pytest

INTEGRATOR = "front.door"
BLACKPOOL = dict(levelOfNeed=3, consent=True, section37Request=False, transferInConference=False,
                 policeProtection=False, knownToTeams=True, exploitationRisk=False, complexNeeds="none",
                 safeguardingConcern=False, homeless16or17=False, preBirth=False, significantHistory=False,
                 gestationWeeks=None)


@pytest.fixture
def family(api):
    assert api.post("/families", {"id": "F-1", "name": "Smith household"}).status_code == 201
    for child in ("C-1", "C-2"):
        response = api.post("/children", {"id": child, "familyId": "F-1", "dateOfBirth": "2019-04-01"})
        assert response.status_code == 201, response.json
    return "F-1"


def episode(api, child, team, started, ended=None, status="assessment"):
    return api.post(f"/children/{child}/episodes",
                    {"team": team, "status": status, "startedAt": started, **({"endedAt": ended} if ended else {})})


def test_a_child_with_siblings_and_the_team_holding_them(api, family):
    assert api.get("/families/F-1").json["children"] == ["C-1", "C-2"]
    assert episode(api, "C-1", "ast", "2026-10-01T09:00:00Z").status_code == 201
    child = api.get("/children/C-1").json
    assert child["siblings"] == ["C-2"] and child["familyId"] == "F-1"
    assert [(h["team"], h["status"]) for h in child["heldBy"]] == [("ast", "assessment")]
    (open_episode,) = child["episodes"]
    response = api.patch(f"/episodes/{open_episode['id']}",
                         {"endedAt": "2026-11-02T12:00:00Z", "endReason": "Transferred to SSF at the ICPC"})
    assert response.status_code == 200 and response.json["endedAt"].startswith("2026-11-02")
    assert api.get("/children/C-1").json["heldBy"] == []
    types = [e["type"] for e in api.get("/children/C-1/history").json]
    assert types == ["child_registered", "episode_opened", "child_viewed", "episode_closed", "child_viewed"]


@pytest.mark.parametrize("request_,status,details", [
    (("get", "/children/C-9", None), 404, None),
    (("post", "/children/C-9/episodes", {"team": "ast", "status": "assessment", "startedAt": "2026-10-01T09:00:00Z"}),
     404, None),
    (("post", "/children", {"id": "C-1"}), 409, {"id": ["already exists"]}),
    (("post", "/children", {"id": "C-3", "familyId": "F-9"}), 422, {"familyId": ["no family F-9: add it first"]}),
    (("post", "/children", {"id": "C-3", "famlyId": "F-1"}), 422, {"famlyId": ["Unknown field."]}),
    (("patch", "/children/C-1", {"familyId": "F-2"}), 409,
     {"familyId": ["already in family F-1; a child belongs to one family"]}),
    (("post", "/children/C-1/episodes", {"team": "AST Team", "status": "open", "startedAt": "2026-10-01T09:00:00Z",
                                         "endedAt": "2026-09-01T09:00:00Z"}), 422,
     {"team": ["must be a team code: lower-case letters, digits, - or _"],
      "status": ["must be one of: assessment, section47, cin_plan, cp_plan, child_in_care, early_help, support"],
      "endedAt": ["must not be before startedAt"]}),
    (("post", "/children/C-1/episodes", {"team": "ast", "status": "assessment", "startedAt": "2026-10-01"}), 422,
     None),
])
def test_bad_input_is_refused_with_what_is_wrong(api, family, request_, status, details):
    api.post("/families", {"id": "F-2"})
    method, path, payload = request_
    response = api.get(path) if method == "get" else getattr(api, method)(path, payload)
    assert response.status_code == status, response.json
    if details is not None:
        assert response.json["error"]["details"] == details


def test_overlapping_episodes_for_one_team_are_refused(api, family):
    assert episode(api, "C-1", "ast", "2026-01-01T09:00:00Z", "2026-03-01T09:00:00Z").status_code == 201
    clash = episode(api, "C-1", "ast", "2026-02-01T09:00:00Z")
    assert clash.status_code == 409
    assert "overlaps episode" in clash.json["error"]["details"]["startedAt"][0]
    # Back to back is fine, and another team may co-work at the same time.
    assert episode(api, "C-1", "ast", "2026-03-01T09:00:00Z").status_code == 201
    assert episode(api, "C-1", "awaken", "2026-03-02T09:00:00Z").status_code == 201
    assert sorted(h["team"] for h in api.get("/children/C-1").json["heldBy"]) == ["ast", "awaken"]


def test_an_ended_episode_cannot_end_again(api, family):
    created = episode(api, "C-1", "ast", "2026-01-01T09:00:00Z", "2026-03-01T09:00:00Z").json
    response = api.patch(f"/episodes/{created['id']}", {"endedAt": "2026-04-01T09:00:00Z"})
    assert response.status_code == 409


def test_only_integrators_change_the_register(api, family):
    episode(api, "C-1", "ast", "2026-01-05T09:00:00Z")
    worker = api.as_("blackpool.ast.sw")
    assert worker.post("/children", {"id": "C-7"}).status_code == 403
    assert worker.patch("/children/C-1", {"name": "Alex"}).status_code == 403
    assert worker.get("/children/C-1").status_code == 200


def test_decisions_read_what_the_register_knows(api, family):
    # Open to SSF: the Hub redirects the contact to that team.
    episode(api, "C-1", "ssf", "2026-06-01T09:00:00Z", status="cin_plan")
    result = api.post("/decisions/blackpool_hub_route/evaluate", {"variables": {**BLACKPOOL, "childId": "C-1"}})
    assert result.json["route"] == "redirect_open_team"
    # Closed by SOC two months ago: back to that team.
    episode(api, "C-2", "soc", "2026-01-05T09:00:00Z", "2026-09-20T09:00:00Z", status="child_in_care")
    result = api.post("/decisions/blackpool_hub_route/evaluate", {"variables": {**BLACKPOOL, "childId": "C-2"}})
    assert result.json["route"] == "previous_team"
    # What the caller says wins over the register.
    result = api.post("/decisions/blackpool_hub_route/evaluate",
                      {"variables": {**BLACKPOOL, "childId": "C-2", "previousTeam": None, "monthsSinceClosed": None}})
    assert result.json["route"] == "ast"
    # Halton: a sibling open to the CIN team.
    episode(api, "C-2", "cin", "2026-10-01T09:00:00Z", status="cin_plan")
    result = api.post("/decisions/halton_sap_allocation/evaluate",
                      {"variables": {"childId": "C-1", "transferInOnPlan": "none"}})
    assert result.json["team"] == "cin" and "3.2" in result.json["reason"]


def family_events(app, family_id):
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        events = db.session.query(AuditEvent).order_by(AuditEvent.at, AuditEvent.id).all()
        return [(e.type, e.user, e.details) for e in events if (e.details or {}).get("familyId") == family_id
                and e.type.startswith("family_")]


def test_a_family_is_audited_when_added_and_renamed(app, api, family):
    response = api.patch("/families/F-1", {"name": "Smith-Jones household"})
    assert response.status_code == 200, response.json
    assert response.json == {"id": "F-1", "name": "Smith-Jones household", "children": ["C-1", "C-2"]}
    assert api.get("/families/F-1").json["name"] == "Smith-Jones household"
    assert family_events(app, "F-1") == [
        ("family_registered", "front.door", {"familyId": "F-1", "name": "Smith household"}),
        ("family_updated", "front.door",
         {"familyId": "F-1", "changes": {"name": {"from": "Smith household", "to": "Smith-Jones household"}}}),
    ]


@pytest.mark.parametrize("user,path,payload,status,details", [
    ("front.door", "/families/F-9", {"name": "Nobody"}, 404, None),
    ("front.door", "/families/F-1", {"nmae": "Typo"}, 422, {"nmae": ["Unknown field."], "name": ["Missing data for required field."]}),
    ("front.door", "/families/F-1", {"name": "x" * 201}, 422, {"name": ["Length must be between 1 and 200."]}),
    ("front.door", "/families/F-1", {"name": ""}, 422, {"name": ["Length must be between 1 and 200."]}),
    ("blackpool.ast.sw", "/families/F-1", {"name": "Not mine to change"}, 403, None),
])
def test_bad_family_changes_are_refused(app, api, family, user, path, payload, status, details):
    api.post("/children/C-1/episodes", {"team": "ast", "status": "assessment", "startedAt": "2026-10-01T09:00:00Z"})
    response = api.as_(user).patch(path, payload)
    assert response.status_code == status, response.json
    if details is not None:
        assert response.json["error"]["details"] == details
    assert api.get("/families/F-1").json["name"] == "Smith household"
    assert [t for t, _, _ in family_events(app, "F-1")] == ["family_registered"]


def test_changing_a_family_is_in_openapi(api):
    spec = api.get("/openapi.json").json
    operation = spec["paths"]["/api/v1/families/{family_id}"]["patch"]
    assert operation["summary"] == "Change a family's name"
    assert "FamilyChange" in spec["components"]["schemas"]
