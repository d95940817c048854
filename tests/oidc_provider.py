"""A small, real OpenID Connect provider for the tests, served on a loopback port.

Discovery, authorize, token and JWKS endpoints; ID tokens signed RS256 with a key made
for the run. It checks what a strict provider checks: the client, the redirect URI, PKCE
(S256 only) and that a code is used once. ``person`` is who signs in at the next
authorize; ``tamper`` overrides claims of the next ID token (a wrong nonce, an expiry in
the past); ``signing_key`` can be swapped for a key the JWKS does not publish.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server


class Provider:
    client_id = "pathways-test"
    client_secret = "s3cret-for-tests"

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.signing_key = self.key
        self.person: dict[str, Any] = {}
        self.tamper: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.server = make_server("127.0.0.1", 0, self._app(), threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Provider":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.thread.join()

    def _app(self) -> Flask:
        app = Flask("test_oidc_provider")
        app.add_url_rule("/.well-known/openid-configuration", view_func=self.discovery)
        app.add_url_rule("/authorize", view_func=self.authorize)
        app.add_url_rule("/token", view_func=self.token, methods=["POST"])
        app.add_url_rule("/jwks", view_func=self.jwks)
        return app

    def discovery(self):
        return jsonify({
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"]})

    def jwks(self):
        return jsonify({"keys": [self.key.as_dict(private=False)]})

    def authorize(self):
        args = request.args
        if (args.get("client_id") != self.client_id or args.get("response_type") != "code"
                or "openid" not in args.get("scope", "").split() or not args.get("redirect_uri")
                or args.get("code_challenge_method") != "S256" or not args.get("code_challenge")):
            abort(400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"redirect_uri": args["redirect_uri"], "challenge": args["code_challenge"],
                            "nonce": args.get("nonce"), "person": dict(self.person)}
        return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args.get('state', '')})}")

    def token(self):
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return jsonify({"error": "invalid_client"}), 401
        grant = self.codes.pop(request.form.get("code", ""), None)  # a code works once
        verifier = request.form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (grant is None or request.form.get("grant_type") != "authorization_code"
                or request.form.get("redirect_uri") != grant["redirect_uri"] or challenge != grant["challenge"]):
            return jsonify({"error": "invalid_grant"}), 400
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **grant["person"], **self.tamper}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.signing_key)
        return jsonify({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                        "id_token": id_token})
