"""The `pathways` command, as an operator runs it, against a fresh SQLite database."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, ok: bool = True):
        result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    invoke("init-db")
    return invoke


def test_init_db_is_repeatable(run):
    assert "database ready" in run("init-db").output


def test_users_and_tokens(run, tmp_path):
    out = run("users", "create", "jo.bloggs", "--groups", "nel-ai-sw", "--roles", "staff,manager",
              "--password-stdin", input="correct horse\n").output
    assert "jo.bloggs" in out and "nel-ai-sw" in out
    token = run("token", "create", "jo.bloggs").stdout.strip()
    assert token.startswith("pw_") and len(token) > 30
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM api_token")).scalar_one()
        password = conn.execute(sa.text("SELECT password_hash FROM user_account")).scalar_one()
    engine.dispose()
    assert token not in stored and "correct horse" not in password

    bad = run("users", "create", "x", "--roles", "wizard", ok=False)
    assert bad.exit_code != 0 and "unknown role" in bad.output
    missing = run("token", "create", "nobody", ok=False)
    assert missing.exit_code != 0 and "no user" in missing.output


def test_tokens_expire_carry_a_role_and_are_revoked_by_id_or_by_value(run):
    run("users", "create", "jo.bloggs", "--groups", "nel-ai-sw", "--roles", "staff,integrator")
    created = run("token", "create", "jo.bloggs", "--days", "7", "--role", "integrator")
    first = created.stdout.strip()
    assert first.startswith("pw_") and "integrator" in created.stderr and "expires" in created.stderr
    second = run("token", "create", "jo.bloggs").stdout.strip()
    refused = run("token", "create", "jo.bloggs", "--role", "admin", ok=False)
    assert refused.exit_code == 1 and "does not hold the role 'admin'" in refused.output
    listed = run("token", "list", "jo.bloggs").stdout.splitlines()
    assert len(listed) == 2 and all("active" in line for line in listed) and first not in "".join(listed)
    first_id = next(line.split()[0] for line in listed if "integrator" in line)
    assert f"revoked token {first_id}" in run("token", "revoke", first_id).stdout
    assert "revoked token" in run("token", "revoke", second).stdout
    assert all("revoked" in line for line in run("token", "list", "jo.bloggs").stdout.splitlines())
    again = run("token", "revoke", first_id, ok=False)
    assert again.exit_code == 1 and "revoked already" in again.output
    assert "no API token 999" in run("token", "revoke", "999", ok=False).output


def test_deploy_default_folders_then_unchanged(run):
    first = run("deploy").output
    assert "deployed" in first
    second = run("deploy").output
    assert "deployed " not in second and "unchanged" in second


def test_deploy_refuses_a_bad_file_with_reasons(run, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<not-closed>")
    result = run("deploy", str(bad), ok=False)
    assert result.exit_code == 1
    assert "bad.bpmn" in result.output and "well-formed" in result.output


def test_seed_demo_prints_users_tokens_and_starts_samples(run):
    run("deploy", str(ROOT / "bpmn"), str(ROOT / "dmn"))
    out = run("seed-demo").output
    assert "front.door" in out and "pw_" in out and "pathways-demo" in out
    assert "Started sample referral REF-1001" in out
    again = run("seed-demo").output
    assert "Started sample referral" not in again


def test_serve_refuses_the_development_secret_outside_the_embedded_default(monkeypatch):
    from conftest import POSTGRES_URL

    monkeypatch.setenv("DATABASE_URL", POSTGRES_URL)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--port", "5099"])
    assert result.exit_code == 1 and "set SECRET_KEY" in result.output
