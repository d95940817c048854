"""The `pathways` command. Every command reads DATABASE_URL and REDIS_URL like the server."""
from __future__ import annotations

import contextlib
import functools
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import click
from flask import Flask
from werkzeug.security import generate_password_hash

from . import create_app, db_migrate
from .auth import ROLES, issue_token
from .config import DEVELOPMENT_SECRET, ROOT
from .errors import PathwaysError
from .extensions import db
from .models import User

DEMO_PASSWORD = "pathways-demo"


def _app() -> Flask:
    return create_app()


@contextlib.contextmanager
def _context(app: Flask) -> Iterator[Flask]:
    """An app context for one command, leaving no connection open behind it."""
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
            queue = app.extensions["pathways.timer_queue"]
            if queue is not None:
                queue.connection.close()


@click.group(help="Pathways: BPMN process automation for children's social care.")
def cli() -> None:
    pass


def main() -> None:
    cli()


class _Failed(click.ClickException):
    """A PathwaysError told to an operator: the message, then each problem on its own line."""

    def __init__(self, exc: PathwaysError):
        lines = [exc.message]
        for name, problems in exc.details.get("files", exc.details).items():
            for problem in problems if isinstance(problems, list) else [problems]:
                lines.append(f"  {name}: {problem}")
        super().__init__("\n".join(lines))


def _operator_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PathwaysError as exc:
            raise _Failed(exc) from None

    return wrapper


@cli.command("init-db", help="Create or upgrade the database schema (Alembic migrations).")
@click.option("--app-role", default=None, metavar="ROLE",
              help="PostgreSQL: grant ROLE what the web and workers need and no more (the audit append-only).")
def init_db(app_role: str | None) -> None:
    app = _app()
    with _context(app):
        db_migrate.upgrade()
        click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")
        if app_role:
            try:
                db_migrate.grant_app_role(app_role)
            except (ValueError, db_migrate.NoSuchRole) as exc:
                raise click.ClickException(str(exc)) from None
            click.echo(f"role {app_role} may read and write the tables and only append to the audit")


@cli.command(help="Deploy .bpmn and .dmn files (default: bpmn/ and dmn/). All or nothing.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_operator_errors
def deploy(paths: tuple[Path, ...]) -> None:
    from .services import deployments

    app = _app()
    targets = list(paths) or [ROOT / "bpmn", ROOT / "dmn"]
    with _context(app):
        files = deployments.files_from_paths(targets)
        result = deployments.deploy(files, app.config["PATHWAYS_MAX_FILE_BYTES"], "cli")
        for row in result.created:
            click.echo(f"deployed {row.key} version {row.version} ({row.source_file})")
        for row in result.unchanged:
            click.echo(f"unchanged {row.key} version {row.version}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)


def _create_user(user_id: str, groups: list[str], roles: list[str], password: str | None,
                 display_name: str | None = None, team: str | None = None,
                 teams: list[str] | None = None) -> User:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise click.BadParameter(f"unknown role(s) {', '.join(sorted(unknown))}; roles are {', '.join(ROLES)}")
    user = db.session.get(User, user_id)
    if user is None:
        user = User(id=user_id, created_at=datetime.now(timezone.utc))
        db.session.add(user)
    user.display_name = display_name or user_id
    user.groups = groups
    user.roles = roles
    user.team = team
    user.teams = teams or []
    if password:
        user.password_hash = generate_password_hash(password)
    return user


@cli.group(help="Manage users.")
def users() -> None:
    pass


@users.command("create", help="Create or update a user.")
@click.argument("name")
@click.option("--groups", default="", help="Comma-separated candidate groups, e.g. nel-ai-sw")
@click.option("--roles", default="staff", help=f"Comma-separated roles: {', '.join(ROLES)}")
@click.option("--display-name", default=None)
@click.option("--team", default=None, help="The user's own team (duty rotas give cases to a team's members).")
@click.option("--teams", default="", help="Comma-separated case register teams whose children the user may "
                                          "see besides their own team's, e.g. ast,ssf")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(name, groups, roles, display_name, team, teams, password_stdin) -> None:
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    app = _app()
    with _context(app):
        user = _create_user(name, _split(groups), _split(roles), password, display_name, team, _split(teams))
        db.session.commit()
        click.echo(f"user {user.id}: groups {', '.join(user.groups) or '-'}; roles {', '.join(user.roles)}")


@cli.group(help="Manage API tokens.")
def token() -> None:
    pass


@token.command("create", help="Create an API token for USER and print it (it is shown only once).")
@click.argument("user_id")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Days until it expires (default PATHWAYS_TOKEN_DAYS, 90).")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="Limit the token to one of the user's roles (default: all of them).")
@_operator_errors
def token_create(user_id: str, days: int | None, role: str | None) -> None:
    from .services import tokens

    app = _app()
    with _context(app):
        user = db.session.get(User, user_id)
        if user is None:
            raise click.ClickException(f"no user {user_id!r}; create it with 'pathways users create'")
        row, value = tokens.issue(user, days or app.config["PATHWAYS_TOKEN_DAYS"], role, "cli")
        db.session.commit()
        # The token alone on standard output, so a script can capture it; the rest to stderr.
        click.echo(value)
        roles = row.role or "every role of the user"
        click.echo(f"token {row.id} for {user.id} ({roles}), expires {row.expires_at:%Y-%m-%d %H:%M} UTC", err=True)


@token.command("list", help="List USER's tokens (never their secrets).")
@click.argument("user_id")
@_operator_errors
def token_list(user_id: str) -> None:
    from .services import tokens

    app = _app()
    with _context(app):
        for row in tokens.of_user(user_id):
            expires = f"{row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else "never"
            click.echo(f"{row.id:>6}  {tokens.status(row):<8} role {row.role or '-':<14} "
                       f"created {row.created_at:%Y-%m-%d %H:%M}  expires {expires}")


@token.command("revoke", help="Revoke a token, given its id (from 'token list') or the token itself.")
@click.argument("id_or_token")
@_operator_errors
def token_revoke(id_or_token: str) -> None:
    from .services import tokens

    app = _app()
    with _context(app):
        row = tokens.revoke(tokens.find(id_or_token), "cli")
        db.session.commit()
        click.echo(f"revoked token {row.id} of {row.user_id}")


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


@cli.command("seed-demo", help="Create demo teams, users and tokens, and a few sample referrals.")
@_operator_errors
def seed_demo() -> None:
    from .demo import DEMO_REGISTER_TEAMS, DEMO_USERS, sample_referrals

    app = _app()
    with _context(app):
        rows = []
        for user_id, name, groups, roles, team in DEMO_USERS:
            user = _create_user(user_id, groups, roles, DEMO_PASSWORD, name, team, DEMO_REGISTER_TEAMS.get(user_id))
            rows.append((user, issue_token(user)))
        db.session.commit()
        started = sample_referrals(app)
        click.echo(f"Demo users (password for all: {DEMO_PASSWORD}) and their API tokens:")
        for user, value in rows:
            click.echo(f"  {user.id:<22} {','.join(user.roles):<24} {','.join(user.groups):<28} {value}")
        for line in started:
            click.echo(line)


def _redis_app() -> Flask:
    app = _app()
    if app.extensions["pathways.timer_queue"] is None:
        raise click.ClickException("REDIS_URL is not set: the worker and the sweep deliver timers through Redis")
    return app


@cli.command(help="Run an RQ worker that fires timers, with its scheduler and a periodic sweep.")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests, one-off catch-up).")
@click.option("--sweep-every", type=float, default=None, help="Seconds between sweeps (0: none).")
def worker(burst: bool, sweep_every: float | None) -> None:
    from workers import worker as rq_worker

    app = _redis_app()
    every = app.config["PATHWAYS_SWEEP_SECONDS"] if sweep_every is None else sweep_every
    rq_worker.run(app, burst=burst, sweep_every=every)


@cli.group(help="Inspect and deliver timers.")
def timers() -> None:
    pass


@timers.command("sweep", help="Put back on Redis every pending timer whose job is missing or dead.")
def timers_sweep() -> None:
    from .services import timers as service

    app = _redis_app()
    with _context(app):
        result = service.sweep(app.extensions["pathways.timer_queue"])
    click.echo(f"{result.pending} pending timer(s); {result.requeued} put back on the queue")


@timers.command("run-due", help="Fire every timer due at an instant (default: now), without Redis.")
@click.option("--as-of", "as_of", default=None, help="ISO 8601 instant; a future one needs PATHWAYS_ALLOW_CLOCK_OVERRIDE=1.")
def timers_run_due(as_of: str | None) -> None:
    from .calendar import to_london
    from .services import timers as service

    app = _app()
    now = datetime.now(timezone.utc)
    try:
        instant = to_london(as_of).astimezone(timezone.utc) if as_of else now
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None
    if instant > now and not app.config["PATHWAYS_ALLOW_CLOCK_OVERRIDE"]:
        raise click.ClickException(
            f"{instant.isoformat()} is in the future; firing timers early needs PATHWAYS_ALLOW_CLOCK_OVERRIDE=1"
        )
    with _context(app):
        queue = app.extensions["pathways.timer_queue"]
        attempts = queue.max_attempts if queue else 5
        counts = service.run_due(app.extensions["pathways.engine"], instant, attempts)
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing due"
    click.echo(f"as of {instant.isoformat()}: {summary}")


@cli.command(help="Serve Pathways over HTTP (gunicorn).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Worker processes (default: 1 on SQLite, 2×CPU+1 otherwise).")
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    app = _app()
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    if not sqlite and app.config["SECRET_KEY"] == DEVELOPMENT_SECRET:
        # Sessions signed with a key everyone can read in the source are forgeable.
        raise click.ClickException("set SECRET_KEY: outside the embedded default (SQLite) Pathways will not "
                                   "serve with the development secret")
    if workers is None:
        import os
        workers = 1 if sqlite else 2 * (os.cpu_count() or 1) + 1

    embedded_timers = app.extensions["pathways.timer_queue"] is None

    def start_embedded_timers(_worker):
        # No Redis: each server process fires due timers itself, every few seconds.
        from .embedded import start_timer_thread

        start_timer_thread(app)

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            if embedded_timers:
                self.cfg.set("post_worker_init", start_embedded_timers)

        def load(self):
            return app

    click.echo(f"Pathways on http://{host}:{port}/ (API at /api/v1, OpenAPI at /api/v1/openapi.json)")
    if embedded_timers:
        click.echo(f"Timers: fired in-process every {app.config['PATHWAYS_EMBEDDED_TIMER_SECONDS']:g}s (no REDIS_URL)")
    Server().run()

