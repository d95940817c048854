"""Sign-in with the council's OpenID Connect provider, off unless configured.

Authlib's Flask client runs the authorization code flow with PKCE (S256) and keeps the
state, nonce and code verifier in the session; on return it checks the state, fetches the
token and verifies the ID token (signature against the provider's JWKS, nonce, expiry).
Issuer and audience are checked here as well: Authlib alone accepts an ID token whose
audience is another client as long as its `azp` names ours.
"""
from __future__ import annotations

from datetime import datetime, timezone

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, current_app, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError

from ..extensions import db
from ..services.sign_in import Locked, NotSetUp, claim_groups, oidc_user
from . import bp
from .sessions import begin_session, safe_next

EXTENSION = "pathways.oidc"


def init_app(app: Flask) -> None:
    """Register the provider when PATHWAYS_OIDC_ISSUER or _DISCOVERY_URL is set; raise
    ValueError for a configuration nobody could sign in with."""
    config = app.config
    issuer, discovery = config["PATHWAYS_OIDC_ISSUER"], config["PATHWAYS_OIDC_DISCOVERY_URL"]
    if not issuer and not discovery:
        if config["PATHWAYS_OIDC_CLIENT_ID"]:
            raise ValueError("PATHWAYS_OIDC_CLIENT_ID is set: set PATHWAYS_OIDC_ISSUER or "
                             "PATHWAYS_OIDC_DISCOVERY_URL too")
        if not config["PATHWAYS_PASSWORD_SIGN_IN"]:
            raise ValueError("PATHWAYS_PASSWORD_SIGN_IN=0 needs OpenID Connect configured, "
                             "or nobody can sign in to the inbox")
        return
    if not config["PATHWAYS_OIDC_CLIENT_ID"]:
        raise ValueError("OpenID Connect is configured without PATHWAYS_OIDC_CLIENT_ID")
    scopes = config["PATHWAYS_OIDC_SCOPES"].split()
    if "openid" not in scopes:
        scopes.insert(0, "openid")  # without it there is no ID token, so no nonce either
    client_kwargs = {"scope": " ".join(scopes), "code_challenge_method": "S256"}
    if not config["PATHWAYS_OIDC_CLIENT_SECRET"]:
        client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE alone
    oauth = OAuth(app)
    app.extensions[EXTENSION] = oauth.register(
        "council",
        client_id=config["PATHWAYS_OIDC_CLIENT_ID"],
        client_secret=config["PATHWAYS_OIDC_CLIENT_SECRET"] or None,
        server_metadata_url=discovery or f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def _problem(title: str, message: str, status: int):
    return render_template("web/sign_in_problem.html", title=title, message=message), status


@bp.get("/sign-in/oidc")
def oidc_sign_in():
    if not enabled():
        return render_template("web/not_found.html"), 404
    session["oidc_next"] = safe_next(request.args.get("next"))
    redirect_uri = current_app.config["PATHWAYS_OIDC_REDIRECT_URI"] or url_for("web.oidc_callback",
                                                                                _external=True)
    try:
        return current_app.extensions[EXTENSION].authorize_redirect(redirect_uri)
    except requests.RequestException as exc:
        current_app.logger.warning("OpenID Connect discovery failed: %s", exc)
        return _unavailable()


def _unavailable():
    name = current_app.config["PATHWAYS_OIDC_NAME"]
    return _problem("Sign-in is not available", f"{name} is not answering at the moment. Try again shortly.", 503)


@bp.get("/sign-in/oidc/callback")
def oidc_callback():
    if not enabled():
        return render_template("web/not_found.html"), 404
    client, config = current_app.extensions[EXTENSION], current_app.config
    try:
        issuer = config["PATHWAYS_OIDC_ISSUER"] or client.load_server_metadata()["issuer"]
        token = client.authorize_access_token(claims_options={
            "iss": {"essential": True, "values": [issuer]},
            "aud": {"essential": True, "value": config["PATHWAYS_OIDC_CLIENT_ID"]}})
    except requests.RequestException as exc:
        current_app.logger.warning("OpenID Connect token request failed: %s", exc)
        return _unavailable()
    except (OAuthError, JoseError, KeyError) as exc:
        # A stale or forged return (state), or an ID token that fails its checks.
        current_app.logger.warning("OpenID Connect sign-in refused: %r", exc)
        return _problem("Sign-in did not work", "Your sign-in could not be checked, so you are not "
                        "signed in. Try again.", 400)
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        return _problem("Sign-in did not work", "Your sign-in came back without an ID token. Try again.", 400)
    username = claims.get(config["PATHWAYS_OIDC_USERNAME_CLAIM"])
    groups_claim = config["PATHWAYS_OIDC_GROUPS_CLAIM"]
    try:
        user = oidc_user(str(claims["sub"]), username if isinstance(username, str) else None,
                         claim_groups(claims.get(groups_claim)) if groups_claim else None,
                         datetime.now(timezone.utc))
    except NotSetUp:
        db.session.commit()  # the refusal is kept in the audit
        return _problem("Your account is not set up in Pathways",
                        f"You signed in to {config['PATHWAYS_OIDC_NAME']}, but Pathways has no account for "
                        "you. Ask your administrator to set up your Pathways account.", 403)
    except Locked as exc:
        db.session.rollback()
        return _problem("Your account is locked", f"Too many wrong passwords were tried. Try again in "
                        f"{exc.minutes} minute{'s' if exc.minutes != 1 else ''}.", 403)
    db.session.commit()
    target = session.get("oidc_next") or "/"
    begin_session(user)
    return redirect(safe_next(target))
