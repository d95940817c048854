"""Signing in with the council's OpenID Connect provider: a real provider on a loopback
port (tests/oidc_provider.py), the inbox driven with Flask's test client, and the
provider's redirects followed over HTTP as a browser would."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa
from joserfc.jwk import RSAKey

from app.cli import _create_user
from app.extensions import db
from app.models import AuditEvent, User
from tests.conftest import make_app
from tests.oidc_provider import Provider

COUNCIL = "North East Lincolnshire Council"


@pytest.fixture(scope="module")
def provider():
    with Provider() as running:
        yield running


@pytest.fixture
def make(provider, tmp_path):
    """An inbox on a database of its own with two users, OpenID Connect configured unless
    told otherwise."""
    url = f"sqlite:///{tmp_path / 'pathways.sqlite3'}"
    provider.person = {"sub": "idp-0001", "preferred_username": "nel.ai.atm"}
    provider.tamper, provider.signing_key = {}, provider.key

    def build(oidc=True, **config):
        if oidc:
            config = {"PATHWAYS_OIDC_ISSUER": provider.issuer, "PATHWAYS_OIDC_CLIENT_ID": provider.client_id,
                      "PATHWAYS_OIDC_CLIENT_SECRET": provider.client_secret, "PATHWAYS_OIDC_NAME": COUNCIL,
                      **config}
        app = make_app(url, **config)
        with app.app_context():
            if db.session.get(User, "nel.ai.atm") is None:
                _create_user("nel.ai.atm", ["nel-ai-atm"], ["manager"], None, "Ada Manager", None)
                _create_user("nel.ai.sw1", ["nel-ai-sw"], ["staff"], None, "Sam Worker", None)
                db.session.commit()
        return app

    return build


def to_provider(client, provider, next_=None):
    """Start signing in and follow the redirect to the provider; returns the callback URL
    the provider sends the browser back to."""
    start = client.get("/sign-in/oidc" + (f"?{urlencode({'next': next_})}" if next_ else ""))
    assert start.status_code == 302 and start.headers["Location"].startswith(f"{provider.issuer}/authorize?")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return urlsplit(answer.headers["Location"])


def back_from_provider(client, callback):
    return client.get(f"{callback.path}?{callback.query}")


def events(app, type_):
    with app.app_context():
        return list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.type == type_)).scalars())


def test_a_known_user_signs_in(make, provider):
    app = make()
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    assert f"Sign in with {COUNCIL}" in page and 'name="password"' in page  # both ways offered
    done = back_from_provider(client, to_provider(client, provider, next_="/team"))
    assert done.status_code == 302 and done.headers["Location"] == "/team"
    assert "Signed in as Ada Manager (nel.ai.atm)" in client.get("/").get_data(as_text=True)
    [signed_in] = events(app, "signed_in")
    assert signed_in.user == "nel.ai.atm"
    assert signed_in.details == {"method": "oidc", "subject": "idp-0001", "linked": True}
    with app.app_context():
        assert db.session.get(User, "nel.ai.atm").oidc_subject == "idp-0001"


def test_the_stored_subject_finds_the_user_and_guards_the_username(make, provider):
    app = make()
    client = app.test_client()
    back_from_provider(client, to_provider(client, provider))
    # Renamed at the provider: still the same person, found by subject.
    provider.person = {"sub": "idp-0001", "preferred_username": "ada.renamed"}
    other = app.test_client()
    assert back_from_provider(other, to_provider(other, provider)).status_code == 302
    assert "(nel.ai.atm)" in other.get("/").get_data(as_text=True)
    # Someone else given the old username at the provider does not get the account.
    provider.person = {"sub": "idp-0002", "preferred_username": "nel.ai.atm"}
    third = app.test_client()
    refused = back_from_provider(third, to_provider(third, provider))
    assert refused.status_code == 403 and third.get("/").status_code == 302


def test_an_unknown_user_is_refused(make, provider):
    app = make()
    client = app.test_client()
    provider.person = {"sub": "idp-0099", "preferred_username": "not.in.pathways"}
    refused = back_from_provider(client, to_provider(client, provider))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert "Your account is not set up in Pathways" in page and "Ask your administrator" in page
    assert client.get("/").status_code == 302  # not signed in
    [event] = events(app, "sign_in_refused")
    assert event.user is None and event.details["username"] == "not.in.pathways"
    assert event.details["subject"] == "idp-0099"


def test_a_wrong_or_replayed_state_is_refused(make, provider):
    app = make()
    client = app.test_client()
    callback = to_provider(client, provider)
    forged = callback._replace(query=re.sub(r"state=[^&]+", "state=forged", callback.query))
    assert back_from_provider(client, forged).status_code == 400
    # A return started in another browser (login CSRF) is refused too.
    attacker = app.test_client()
    assert back_from_provider(attacker, to_provider(client, provider)).status_code == 400
    # The real return works once, and only once.
    callback = to_provider(client, provider)
    assert back_from_provider(client, callback).status_code == 302
    replay = app.test_client()
    assert back_from_provider(replay, callback).status_code == 400
    assert replay.get("/").status_code == 302


@pytest.mark.parametrize("tamper, why", [
    ({"nonce": "not-the-one-sent"}, "wrong nonce"),
    ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
    ({"aud": "another-client", "azp": Provider.client_id}, "for another client"),
    ({"iss": "http://127.0.0.1:1"}, "another issuer"),
])
def test_an_id_token_that_fails_its_checks_is_refused(make, provider, tamper, why):
    app = make()
    client = app.test_client()
    provider.tamper = tamper
    refused = back_from_provider(client, to_provider(client, provider))
    assert refused.status_code == 400, why
    assert "Sign-in did not work" in refused.get_data(as_text=True)
    assert client.get("/").status_code == 302 and events(app, "signed_in") == []


def test_an_id_token_signed_with_another_key_is_refused(make, provider):
    app = make()
    client = app.test_client()
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    assert back_from_provider(client, to_provider(client, provider)).status_code == 400
    assert client.get("/").status_code == 302


def test_off_unless_configured(make):
    app = make(oidc=False)
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Sign in with" not in page and 'name="password"' in page
    assert client.get("/sign-in/oidc").status_code == 404
    assert client.get("/sign-in/oidc/callback?code=x&state=y").status_code == 404


def test_password_sign_in_can_be_turned_off(make, provider):
    app = make(PATHWAYS_PASSWORD_SIGN_IN=False, WTF_CSRF_ENABLED=False)  # no form, so no CSRF token
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    assert f"Sign in with {COUNCIL}" in page and 'name="password"' not in page
    assert client.post("/sign-in", data={"username": "nel.ai.atm", "password": "x"}).status_code == 404
    with pytest.raises(ValueError, match="nobody can sign in"):
        make(oidc=False, PATHWAYS_PASSWORD_SIGN_IN=False)
    with pytest.raises(ValueError, match="PATHWAYS_OIDC_ISSUER"):
        make(oidc=False, PATHWAYS_OIDC_CLIENT_ID="pathways")


def test_groups_stay_local_unless_the_provider_is_trusted_with_them(make, provider):
    provider.person = {"sub": "idp-0001", "preferred_username": "nel.ai.atm",
                       "groups": ["nel-ai-atm", "nel-ai-tm"], "roles": ["admin"]}
    local = make()
    client = local.test_client()
    back_from_provider(client, to_provider(client, provider))
    with local.app_context():
        assert db.session.get(User, "nel.ai.atm").groups == ["nel-ai-atm"]
    trusted = make(PATHWAYS_OIDC_GROUPS_CLAIM="groups")
    client = trusted.test_client()
    back_from_provider(client, to_provider(client, provider))
    with trusted.app_context():
        user = db.session.get(User, "nel.ai.atm")
        assert user.groups == ["nel-ai-atm", "nel-ai-tm"]
        assert user.roles == ["manager"]  # roles are never the provider's to give
    assert events(trusted, "signed_in")[-1].details["groups"] == {"from": ["nel-ai-atm"],
                                                                  "to": ["nel-ai-atm", "nel-ai-tm"]}


def test_sessions_work_as_for_a_password(make, provider):
    app = make()
    with app.app_context():  # locked by wrong passwords: locked for every way in
        db.session.get(User, "nel.ai.atm").locked_until = datetime.now(timezone.utc) + timedelta(minutes=10)
        db.session.commit()
    client = app.test_client()
    locked = back_from_provider(client, to_provider(client, provider))
    assert locked.status_code == 403 and "Your account is locked" in locked.get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, "nel.ai.atm")
        user.locked_until = None
        user.session_epoch += 1  # as "sign out everywhere" does
        db.session.commit()
    assert back_from_provider(client, to_provider(client, provider)).status_code == 302
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.get(User, "nel.ai.atm").session_epoch += 1
        db.session.commit()
    assert client.get("/").status_code == 302


def test_a_provider_that_does_not_answer(make, provider):
    app = make(PATHWAYS_OIDC_ISSUER="http://127.0.0.1:9")  # discard port: nothing listens
    response = app.test_client().get("/sign-in/oidc")
    assert response.status_code == 503 and "is not answering" in response.get_data(as_text=True)


def test_configured_from_the_environment(make, provider, monkeypatch):
    for name, value in {"PATHWAYS_OIDC_ISSUER": provider.issuer, "PATHWAYS_OIDC_CLIENT_ID": provider.client_id,
                        "PATHWAYS_OIDC_CLIENT_SECRET": provider.client_secret, "PATHWAYS_OIDC_NAME": COUNCIL,
                        "PATHWAYS_OIDC_SCOPES": ""}.items():  # empty, as compose passes it: the default
        monkeypatch.setenv(name, value)
    client = make(oidc=False).test_client()
    assert f"Sign in with {COUNCIL}" in client.get("/sign-in").get_data(as_text=True)
    callback = to_provider(client, provider)
    assert back_from_provider(client, callback).status_code == 302
