"""Production settings pass Django's deployment checklist with no warning at all."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def production_env(tmp_path: Path, **overrides: str) -> dict:
    # Only what a deployment sets; nothing from the test run (HTTPS=0, DEBUG, URLs) leaks in.
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "dianxiaoer.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "example.com",
            "SITE_URL": "https://example.com",
            "DXE_VAR_DIR": str(tmp_path / "var"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(overrides)
    return env


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_is_clean_on_postgres_and_redis_settings_too(tmp_path):
    env = production_env(
        tmp_path,
        DATABASE_URL="postgres://dxe:secret@db.internal:5432/dxe",
        REDIS_URL="redis://cache.internal:6379/0",
        CSRF_TRUSTED_ORIGINS="https://example.com",
    )
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_plain_http_override_is_what_check_deploy_flags(tmp_path):
    """HTTPS=0 turns the hardening off; the checklist must notice (guards the test above)."""
    result = manage(production_env(tmp_path, HTTPS="0"), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr  # SECURE_SSL_REDIRECT


def test_check_deploy_asks_for_site_url_and_check_refuses_a_bad_one(tmp_path):
    unset = manage(production_env(tmp_path, SITE_URL=""), "check", "--deploy", "--fail-level", "WARNING")
    assert unset.returncode != 0
    assert "inbox.W001" in unset.stdout + unset.stderr
    bad = manage(production_env(tmp_path, SITE_URL="kefu.example.com/inbox"), "check")
    assert bad.returncode != 0
    assert "inbox.E001" in bad.stdout + bad.stderr


def test_postgres_connections_are_not_kept_under_asgi(tmp_path):
    """daphne runs each request in a new thread: kept connections would pile up (bench/api_list.py)."""
    env = production_env(tmp_path, DATABASE_URL="postgres://dxe:secret@db.internal:5432/dxe")
    result = manage(env, "shell", "-c", "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0"


def test_pages_render_with_collected_static_files_in_production(tmp_path):
    """DEBUG=0 uses the manifest storage: every {% static %} a page names must be collected."""
    env = production_env(tmp_path, STATIC_ROOT=str(tmp_path / "static"), ALLOWED_HOSTS="testserver")
    collected = manage(env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "response = Client().get('/accounts/login/', secure=True)\n"
        "assert response.status_code == 200, response.status_code\n"
        "body = response.content.decode()\n"
        "assert '/static/' in body\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
