"""A bounded fuzz run of API v1 from its own OpenAPI document (schemathesis).

Every operation of `/api/v1/openapi.json` is called in-process through the WSGI app with
generated valid and invalid input, as an admin (past every role check) and, more briefly,
as an integrator and a social worker (the refusals). Every answer must be no 5xx, a
documented status code and content type, and a body matching the documented schema.

SQLite only: the run looks for contract faults of the API layer, and the API suites already
run on both databases. (Faults only PostgreSQL has, such as text with a NUL character, get
a test of their own in tests/test_api.py.)
"""
from __future__ import annotations

import pytest
import schemathesis
import sqlalchemy as sa
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from app.extensions import db
from app.models import ProcessInstance, Task
from app.cli import _create_user
from app.services import documents, tokens
from conftest import TEST_NOW, Api, make_app, seed

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _config(mode: str, max_examples: int, coverage: bool) -> schemathesis.Config:
    # Bounded for CI: a fixed seed, derandomized, no example database, so every run sends the
    # same requests. Schemathesis turns Hypothesis's deadline off itself.
    return schemathesis.Config.from_dict({
        "seed": 20261201,
        "generation": {"mode": mode, "max-examples": max_examples, "deterministic": True, "database": "none"},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": coverage},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    })


def _document() -> dict:
    # Schemathesis needs the document when tests are collected; it depends on the routes,
    # not the data, so an app on an empty in-memory database serves it.
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True, "REDIS_URL": None})
    return app.test_client().get("/api/v1/openapi.json").json


DOCUMENT = _document()
# The admin gets the whole run: valid and invalid input, and the coverage phase's edge cases.
as_admin = schemathesis.openapi.from_dict(DOCUMENT, config=_config("all", 15, coverage=True))
# Other roles are mostly refused before their input is read: a short run of valid input.
as_role = schemathesis.openapi.from_dict(DOCUMENT, config=_config("positive", 4, coverage=False))


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'pathways.sqlite3'}")
    seed(app)
    app.fuzz_ids = _sample_case(app)
    yield app
    with app.app_context():
        db.engine.dispose()


LETTER = {"route": "ast", "contactReceivedAt": "2026-12-01T08:00:00Z", "receivingTeam": "ast",
          "allocatedWorker": "Sam Jones", "allocatedWorkerContact": "01253 000000"}


def _sample_case(app) -> dict[str, str]:
    """A family, a child with an episode, and a case with a document, so path parameters
    can name things that exist."""
    api = Api(app, "front.door")
    assert api.post("/families", {"id": "F-FUZZ", "name": "Fuzz"}).status_code == 201
    assert api.post("/children", {"id": "C-FUZZ", "familyId": "F-FUZZ"}).status_code == 201
    episode = api.post("/children/C-FUZZ/episodes", {"team": "ast", "status": "assessment",
                                                     "startedAt": "2026-11-02T09:00:00Z"})
    assert episode.status_code == 201, episode.json
    instance_id = _start(app)
    with app.app_context():
        document = documents.produce("referral_outcome_letter", instance_id, {**LETTER, "childId": "C-FUZZ"},
                                     "visit", "front.door", TEST_NOW)
        db.session.commit()
        document_id = document.id
        # A user of its own with a token, for the token endpoints to list and revoke.
        owner = _create_user("fuzz.owner", [], ["staff"], None)
        token_row, _ = tokens.issue(owner, 30, None, "admin")
        db.session.commit()
        token_id = str(token_row.id)
    return {"family_id": "F-FUZZ", "child_id": "C-FUZZ", "episode_id": episode.json["id"],
            "document_id": document_id, "user_id": "fuzz.owner", "token_id": token_id}


def _start(app) -> str:
    response = Api(app, "front.door").post("/process-definitions/smoke_flow/start", {
        "businessKey": "FUZZ", "variables": {"childId": "C-FUZZ", "referralReceivedAt": "2026-12-23T10:00:00Z"}})
    assert response.status_code == 201, response.json
    return response.json["id"]


def _existing(app, operation_path: str, name: str) -> str:
    """An id for path parameter ``name`` that names something now: an open task or instance,
    starting a new case once the run has completed or cancelled the open ones."""
    if name == "key":
        return "strict_route" if operation_path.startswith("/api/v1/decisions/") else "smoke_flow"
    if name in app.fuzz_ids:
        return app.fuzz_ids[name]
    model = {"task_id": Task, "instance_id": ProcessInstance}[name]
    with app.app_context():
        found = db.session.execute(sa.select(model.id).where(model.status == "active").limit(1)).scalar()
        db.session.remove()
    if found is None:
        _start(app)
        return _existing(app, operation_path, name)
    return found


def _call(case, app, user: str) -> None:
    headers = {"Authorization": f"Bearer {app.tokens[user]}"}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)
    if case.path_parameters:
        # A generated id names nothing (404); send the same query and body to one that exists,
        # so they reach the handler too.
        real = case.operation.Case(
            path_parameters={name: _existing(app, case.operation.path, name) for name in case.path_parameters},
            query=case.query, body=case.body, media_type=case.media_type)
        real.call_and_validate(app=app, headers=headers, checks=CHECKS)


@as_admin.parametrize()
def test_every_operation_keeps_its_contract_for_an_admin(case, fuzz_app):
    _call(case, fuzz_app, "admin")


@pytest.fixture(scope="module", params=["front.door", "nel.ai.sw1"])
def caller(request) -> str:
    """An integrator (no groups, so no tasks) and a social worker (no integrator role)."""
    return request.param


@as_role.parametrize()
def test_every_operation_keeps_its_contract_for_other_roles(case, fuzz_app, caller):
    _call(case, fuzz_app, caller)
