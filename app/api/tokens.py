"""API tokens by API, for an admin: a user's tokens without their secrets, and revoking one."""
from __future__ import annotations

from flask import g, jsonify

from ..auth import authenticated, require_role
from ..errors import NotFound
from ..services import tokens as service
from ..services.transaction import commit
from . import bp, schema_for, schemas
from .openapi import doc


def _require_admin() -> None:
    require_role(g.user, "admin", action="manage API tokens (needs the admin role)")


def _token_json(row) -> dict:
    return schema_for(schemas.TokenOut).dump({**{c: getattr(row, c) for c in ("id", "user_id", "role", "created_at",
                                                                    "expires_at", "revoked_at", "revoked_by")},
                                    "status": service.status(row)})


@bp.get("/users/<user_id>/tokens")
@authenticated
@doc("A user's API tokens, newest first, without their secrets (admin)", response=(200, [schemas.TokenOut]),
     errors=(403, 404))
def user_tokens(user_id: str):
    _require_admin()
    return jsonify([_token_json(row) for row in service.of_user(user_id)])


@bp.post("/users/<user_id>/tokens/<int:token_id>/revoke")
@authenticated
@doc("Revoke one of a user's API tokens (admin); it answers 401 from then on", response=(200, schemas.TokenOut),
     errors=(403, 404, 409))
def revoke_token(user_id: str, token_id: int):
    _require_admin()
    row = service.find(str(token_id))
    if row.user_id != user_id:
        raise NotFound(f"{user_id} has no API token {token_id}")
    service.revoke(row, g.user.id)
    commit()
    return jsonify(_token_json(row))
