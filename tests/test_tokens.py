"""API tokens: expiry, revocation (by API for an admin, and by the CLI) and a role that
limits what a token may do, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.auth import issue_token
from app.cli import _create_user
from app.errors import Invalid
from app.extensions import db
from app.models import ApiToken, AuditEvent, User

START = {"childId": "C-1", "referralReceivedAt": "2026-12-23T10:00:00Z"}


def new_token(app, user_id: str, **options) -> str:
    with app.app_context():
        value = issue_token(db.session.get(User, user_id), **options)
        db.session.commit()
    return value


def call(app, token: str, method: str, path: str, json=None):
    response = app.test_client().open(f"/api/v1{path}", method=method, json=json,
                                      headers={"Authorization": f"Bearer {token}"})
    response.close()
    return response


def row_of(app, token: str) -> ApiToken:
    from app.auth import hash_token

    with app.app_context():
        row = db.session.execute(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token))).scalar_one()
        db.session.expunge(row)
        return row


def test_a_new_token_lasts_the_default_days(app):
    token = new_token(app, "nel.ai.sw1")
    expires = row_of(app, token).expires_at
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(days=90))) < timedelta(minutes=1)
    assert call(app, token, "GET", "/tasks").status_code == 200


def test_an_expired_token_answers_401_saying_so(app):
    token = new_token(app, "nel.ai.sw1", days=1)
    with app.app_context():
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == row_of(app, token).id)
                           .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    response = call(app, token, "GET", "/tasks")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert "expired" in response.json["error"]["message"] and response.json["error"]["details"] == {
        "token": ["expired"]}


def test_a_token_issued_before_expiry_existed_keeps_working(app):
    token = new_token(app, "nel.ai.sw1")
    with app.app_context():
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == row_of(app, token).id).values(expires_at=None))
        db.session.commit()
    assert call(app, token, "GET", "/tasks").status_code == 200


def test_an_admin_lists_a_users_tokens_without_secrets_and_revokes_one(api, app):
    token = new_token(app, "nel.ai.sw2", days=7)
    other = new_token(app, "nel.ai.sw2", days=30)
    admin = api.as_("admin")
    listed = admin.get("/users/nel.ai.sw2/tokens")
    assert listed.status_code == 200
    mine = {t["id"]: t for t in listed.json}
    token_id, other_id = row_of(app, token).id, row_of(app, other).id
    assert mine[token_id]["status"] == "active" and mine[token_id]["userId"] == "nel.ai.sw2"
    assert set(mine[token_id]) == {"id", "userId", "role", "status", "createdAt", "expiresAt", "revokedAt",
                                   "revokedBy"}
    assert token not in listed.get_data(as_text=True) and row_of(app, token).token_hash not in listed.get_data(
        as_text=True)

    revoked = admin.post(f"/users/nel.ai.sw2/tokens/{token_id}/revoke")
    assert revoked.status_code == 200, revoked.json
    assert revoked.json["status"] == "revoked" and revoked.json["revokedBy"] == "admin"
    response = call(app, token, "GET", "/tasks")
    assert response.status_code == 401 and "revoked" in response.json["error"]["message"]
    assert call(app, other, "GET", "/tasks").status_code == 200  # only that one
    assert admin.post(f"/users/nel.ai.sw2/tokens/{token_id}/revoke").status_code == 409
    assert admin.post(f"/users/nel.ai.sw1/tokens/{other_id}/revoke").status_code == 404  # not that user's
    assert admin.get("/users/nobody/tokens").status_code == 404
    with app.app_context():
        (event,) = db.session.execute(sa.select(AuditEvent).where(AuditEvent.type == "token_revoked")).scalars()
        assert event.user == "admin" and event.details == {"tokenId": token_id, "owner": "nel.ai.sw2"}


def test_only_an_admin_manages_tokens(api):
    assert api.as_("nel.ai.sw1").get("/users/nel.ai.sw1/tokens").status_code == 403
    assert api.as_("front.door").post("/users/nel.ai.sw1/tokens/1/revoke").status_code == 403


def test_a_token_acts_in_its_role_only(app):
    with app.app_context():
        _create_user("dual.role", ["nel-ai-sw"], ["staff", "integrator"], None)
        db.session.commit()
    integrator = new_token(app, "dual.role", role="integrator")
    staff = new_token(app, "dual.role", role="staff")
    started = call(app, integrator, "POST", "/process-definitions/smoke_flow/start", {"variables": START})
    assert started.status_code == 201, started.json
    (task,) = started.json["activeTasks"]
    assert task["candidateGroups"] == ["nel-ai-sw"]
    # As an integrator the user works no tasks, though their group would.
    assert call(app, integrator, "GET", "/tasks").json == []
    # It sees the case (integrators see every case) but may not work its task.
    assert call(app, integrator, "GET", f"/tasks/{task['id']}").status_code == 200
    assert call(app, integrator, "POST", f"/tasks/{task['id']}/complete", {"variables": {}}).status_code == 403
    assert call(app, staff, "GET", f"/tasks/{task['id']}").status_code == 200
    assert call(app, staff, "POST", "/process-definitions/smoke_flow/start", {"variables": START}).status_code == 403
    # An admin's token limited to one role is not an admin's token.
    limited_admin = new_token(app, "admin", role="integrator")
    assert call(app, limited_admin, "GET", "/users/admin/tokens").status_code == 403
    assert call(app, limited_admin, "POST", "/process-definitions/smoke_flow/start",
                {"variables": START}).status_code == 201


def test_a_token_cannot_carry_a_role_its_user_lacks(app):
    with app.app_context(), pytest.raises(Invalid, match="does not hold the role 'admin'"):
        issue_token(db.session.get(User, "nel.ai.sw1"), role="admin")
