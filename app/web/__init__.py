"""The staff inbox: GOV.UK Design System pages over the same services as the API.

Signed-in users are kept in the Flask session; every form carries a CSRF token
(Flask-WTF). The API blueprint, which uses bearer tokens, is exempt.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, Flask, abort, g, render_template, send_from_directory
from werkzeug.exceptions import MethodNotAllowed, NotFound
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from ..calendar import to_london

bp = Blueprint("web", __name__)
csrf = CSRFProtect()
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
GOVUK_DIST = NODE_MODULES / "govuk-frontend" / "dist" / "govuk"
BPMN_JS_DIST = NODE_MODULES / "bpmn-js" / "dist"


def init_app(app: Flask, api_bp: Blueprint) -> None:
    app.jinja_loader = ChoiceLoader([
        app.jinja_loader,
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
    ])
    csrf.init_app(app)
    oidc.init_app(app)
    csrf.exempt(api_bp)
    app.register_blueprint(bp)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.after_request(_security_headers)
    # An address nothing answers: the API's JSON error under its prefix, a page elsewhere.
    app.register_error_handler(NotFound, _page_not_found)
    app.register_error_handler(MethodNotAllowed, _page_not_found)


def _page_not_found(exc):
    from ..api import no_route

    answer = no_route(exc)
    if answer is not exc:
        return answer
    return render_template("web/not_found.html"), exc.code


def _security_headers(response):
    """Headers on every response; a Content-Security-Policy on pages. Scripts run only from
    this server or with the page's nonce; bpmn-js writes inline styles into its SVG, so
    style-src allows them."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        nonce = g.get("csp_nonce", "")
        response.headers.setdefault("Content-Security-Policy", "; ".join([
            "default-src 'self'", f"script-src 'self'" + (f" 'nonce-{nonce}'" if nonce else ""),
            "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self'",
            "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
            "frame-ancestors 'none'"]))
    return response


@bp.app_context_processor
def csp_nonce() -> dict:
    g.csp_nonce = g.get("csp_nonce") or secrets.token_urlsafe(16)
    return {"cspNonce": g.csp_nonce}


@bp.get("/assets/<path:filename>")
def govuk_assets(filename: str):
    """GOV.UK Frontend's CSS, JavaScript, fonts and images (installed by npm)."""
    if not GOVUK_DIST.is_dir():
        abort(404)
    if filename in ("govuk-frontend.min.css", "govuk-frontend.min.js"):
        return send_from_directory(GOVUK_DIST, filename, max_age=3600)
    return send_from_directory(GOVUK_DIST / "assets", filename, max_age=86400)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on pages without a favicon link, such as a letter."""
    if not GOVUK_DIST.is_dir():
        abort(404)
    return send_from_directory(GOVUK_DIST / "assets" / "images", "favicon.ico", max_age=86400)


@bp.get("/bpmn-js/<path:filename>")
def bpmn_js(filename: str):
    """bpmn-js, which draws a case's diagram (installed by npm)."""
    if not BPMN_JS_DIST.is_dir():
        abort(404)
    return send_from_directory(BPMN_JS_DIST, filename, max_age=3600)


from . import oidc, team, views  # noqa: E402,F401  (routes register on bp)
from .labels import group_label, teams_label  # noqa: E402


@bp.app_template_filter("error_link")
def error_link(item: tuple, dates: list[str] | None = None) -> dict:
    """An error summary entry linking to its field (a date's first box, its day)."""
    field_id, message = item
    return {"text": message, "href": f"#{field_id}-day" if field_id in (dates or []) else f"#{field_id}"}


@bp.app_template_filter("london")
def london(value, fmt: str = "%-d %B %Y %H:%M") -> str:
    """A stored instant (UTC) as London's clock shows it: an hour on in summer time."""
    return to_london(value).strftime(fmt)


@bp.app_template_filter("answer_row")
def answer_row(row: tuple[str, str]) -> dict:
    """A recorded answer (label, text) as a summary list row."""
    return {"key": {"text": row[0]}, "value": {"text": row[1]}}


@bp.app_template_filter("radio")
def radio(option: dict, chosen: str | None) -> dict:
    """A form field option as a GOV.UK radios/select item."""
    return {"value": option["id"], "text": option["name"], "checked": option["id"] == chosen,
            "selected": option["id"] == chosen}


@bp.app_template_filter("colleague")
def colleague(user, assigned: str | None) -> dict:
    return {"value": user.id, "text": f"{user.display_name} ({user.id})", "selected": user.id == assigned}


@bp.app_template_filter("option")
def option(value: str, chosen: str | None) -> dict:
    return {"value": value, "text": value, "selected": value == chosen}


@bp.app_template_filter("group_option")
def group_option(code: str, chosen: str | None) -> dict:
    return {"value": code, "text": group_label(code), "selected": code == chosen}


bp.add_app_template_filter(group_label, "group_label")
bp.add_app_template_filter(teams_label, "teams_label")
