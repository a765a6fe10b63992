"""docker-compose.yml, the Dockerfile, gunicorn.conf.py and .env.example stay consistent with the
settings: every variable the settings read is documented and reaches the containers."""

import os
import re
import runpy
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
COMPOSE = BASE_DIR / "docker-compose.yml"
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Read by the settings but derived from another variable in compose, or fixed by production.
NOT_PASSED_BY_COMPOSE = {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_DEBUG"}


def settings_variables() -> set[str]:
    pattern = re.compile(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"')
    found: set[str] = set()
    for path in (BASE_DIR / "msp_program" / "settings").glob("*.py"):
        found |= set(pattern.findall(path.read_text()))
    return found


def env_example_variables() -> set[str]:
    text = (BASE_DIR / ".env.example").read_text()
    return set(re.findall(r"(?m)^#?\s?([A-Z][A-Z0-9_]*)=", text))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_cli() -> list[str] | None:
    """`docker compose` (the plugin), else the standalone `docker-compose` (CI installs it)."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_config_is_valid():
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {**os.environ, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE), "config", "-q"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_compose_has_the_platform_services(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert set(compose["volumes"]) >= {"pgdata"}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate_platform"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"] == [
        "gunicorn",
        "msp_program.wsgi",
        "-c",
        "gunicorn.conf.py",
    ]
    assert services["worker"]["command"][:5] == ["celery", "-A", "msp_program", "-q", "worker"]
    assert services["beat"]["command"][:5] == ["celery", "-A", "msp_program", "-q", "beat"]


def test_app_services_wait_for_healthy_backends_and_the_migration(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        if name != "migrate":
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_every_settings_variable_reaches_the_app_containers(compose):
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "msp_program.settings.production"
        missing = settings_variables() - NOT_PASSED_BY_COMPOSE - set(environment)
        assert not missing, f"{name} does not pass {sorted(missing)}"
    assert compose["services"]["web"]["environment"]["PORT"] == "8000"


def test_every_variable_is_documented_in_env_example(compose):
    documented = env_example_variables()
    assert settings_variables() - documented == set()
    used_by_compose = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used_by_compose - documented == set()
    gunicorn = set(
        re.findall(r'environ\.get\(\s*"([A-Z_]+)"', (BASE_DIR / "gunicorn.conf.py").read_text())
    )
    assert gunicorn - documented == set()
    assert "DJANGO_SETTINGS_MODULE" in documented


def test_env_example_holds_no_secret_key_value():
    text = (BASE_DIR / ".env.example").read_text()
    assert not re.search(r"(?m)^DJANGO_SECRET_KEY=\S", text)


def test_gunicorn_conf_reads_port_and_concurrency(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    monkeypatch.setenv("GUNICORN_THREADS", "2")
    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    assert conf["bind"] == ["0.0.0.0:9123"]
    assert conf["workers"] == 5
    assert conf["threads"] == 2
    assert conf["accesslog"] == "-"
    assert conf["logconfig_dict"]["formatters"]["json"]["()"] == "core.logging.JsonFormatter"


def test_dockerfile_builds_a_non_root_production_image():
    text = (BASE_DIR / "Dockerfile").read_text()
    assert re.search(r"(?m)^FROM python:3\.11-slim$", text)
    assert "requirements.lock" in text
    assert "collectstatic --noinput" in text
    assert "DJANGO_SETTINGS_MODULE=msp_program.settings.production" in text
    users = re.findall(r"(?m)^USER (\S+)$", text)
    assert users and users[-1] not in ("root", "0")
    assert 'CMD ["gunicorn", "msp_program.wsgi", "-c", "gunicorn.conf.py"]' in text
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", ".data"} <= set(ignored)
