"""The production settings pass `check --deploy` without a single warning, and the models have
no migration left to write."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env() -> dict[str, str]:
    """A realistic production environment. Security toggles are pinned, so that a developer's
    own .env (which the settings also read) cannot weaken them for this check."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="msp_program.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="platform.example.com,.vendors.example.com",
        DJANGO_SECURE_SSL_REDIRECT="true",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        PLATFORM_DOMAIN="platform.example.com",
        DATABASE_URL="postgres://msp:s3cret@db.internal:5432/msp_program",
        REDIS_URL="redis://redis.internal:6379/0",
    )
    return env


def test_check_deploy_is_clean_for_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "ERRORS" not in output
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_production_settings_refuse_to_start_without_a_secret_key():
    dotenv = BASE_DIR / ".env"
    if dotenv.exists() and re.search(r"(?m)^\s*DJANGO_SECRET_KEY=\S", dotenv.read_text()):
        pytest.skip("a local .env supplies DJANGO_SECRET_KEY")
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_no_missing_migrations():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["DJANGO_SETTINGS_MODULE"] = "msp_program.settings.test"
    result = run_manage("makemigrations", "--check", "--dry-run", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No changes detected"
