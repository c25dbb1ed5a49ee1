"""Browser tests: the real ASGI app in daphne, driven through Debian's Chromium by Playwright.

``live`` (session scope) creates a database of its own: a SQLite file in a temporary folder,
or, when ``DATABASE_URL`` is set (CI's second pass), a fresh PostgreSQL database on that server,
dropped afterwards. A child process migrates it and collects static files; then daphne serves
the app on a free port and :mod:`tests.e2e.helper` runs beside it to seed rows and read them
back. ``REDIS_URL`` passes through, so on CI the channel layer is Redis; without it the
helper's writes reach the server's in-memory layer through the relay socket, as a Celery
worker's do (``dianxiaoer/layer_relay.py``), so what a test seeds shows live on open pages.

pytest-django's test database is not used here: the server is another process, and an
in-memory SQLite database cannot be shared with it.

Screenshots of each run go to ``artifacts/screenshots/`` (git-ignored).
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..pg_scratch import drop_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
START_TIMEOUT = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _database(tmp: Path):
    """Env entries naming a fresh database for the server and the helper."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield {}
        return
    import psycopg2

    parts = urllib.parse.urlsplit(url)
    name = f"dxe_e2e_{os.getpid()}"
    admin = {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/") or "postgres",
    }
    try:
        connection = psycopg2.connect(**admin)
    except psycopg2.OperationalError:  # the named database may not exist yet: use the maintenance one
        connection = psycopg2.connect(**{**admin, "dbname": "postgres"})
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield {"DATABASE_URL": parts._replace(path=f"/{name}").geturl(), "CONN_MAX_AGE": "0"}
    finally:
        with connection.cursor() as cursor:
            drop_database(cursor, name)
        connection.close()


class Helper:
    """Calls into :mod:`tests.e2e.helper` (a child process with Django on the e2e database)."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.helper"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("ab"),
            text=True,
            bufsize=1,
        )

    def __call__(self, op: str, **args):
        self.process.stdin.write(json.dumps({"op": op, "args": args}, ensure_ascii=False) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"e2e helper died:\n{self.log.read_text()[-4000:]}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"e2e helper {op} failed: {answer['error']}")
        return answer["result"]

    def close(self):
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


@dataclass
class Live:
    base_url: str
    helper: Helper
    log: Path
    tmp: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)")
    tmp = tmp_path_factory.mktemp("e2e")
    with _database(tmp) as db_env:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(
            DJANGO_SETTINGS_MODULE="tests.settings",
            DXE_VAR_DIR=str(tmp),
            STATIC_ROOT=str(tmp / "static"),
            CHANNEL_RELAY_SOCKET=str(tmp / "relay.sock"),
            PYTHONPATH=str(ROOT),
            **db_env,
        )
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        log = tmp / "daphne.log"
        port = _free_port()
        server = subprocess.Popen(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "dianxiaoer.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        helper = None
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"daphne exited with {server.returncode}:\n{log.read_text()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"daphne did not listen on {port}:\n{log.read_text()}")
                    time.sleep(0.1)
            helper = Helper(env, tmp / "helper.log")
            yield Live(base_url=f"http://127.0.0.1:{port}", helper=helper, log=log, tmp=tmp)
        finally:
            if helper is not None:
                helper.close()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@dataclass
class Browser:
    """One Chromium for a test; contexts are separate people (cookies, storage)."""

    live: Live
    browser: object
    contexts: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def page(self, *, locale: str = "zh-CN", viewport=(1440, 860), session: str | None = None, mobile: bool = False):
        options = {"locale": locale, "viewport": {"width": viewport[0], "height": viewport[1]}}
        if mobile:
            options.update(viewport={"width": 390, "height": 780}, device_scale_factor=2, is_mobile=True, has_touch=True)
        context = self.browser.new_context(**options)
        if session:
            context.add_cookies([{"name": "sessionid", "value": session, "url": self.live.base_url}])
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        return page

    def agent_page(self, agent: dict, **kwargs):
        page = self.page(session=agent["session"], **kwargs)
        page.goto(self.live.url("/inbox/"))
        page.wait_for_selector('#conn[data-state="open"]')
        return page


@pytest.fixture
def browser(live, request):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        session = Browser(live=live, browser=chromium)
        try:
            yield session
        finally:
            for context in session.contexts:
                context.close()
            chromium.close()
    assert not session.errors, f"JavaScript errors on the pages: {session.errors}"


def shot(page, name: str) -> Path:
    """Save a screenshot to artifacts/screenshots/<name>.png (one per name, replaced each run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def png_file(directory: Path, name: str, size=(160, 120), color=(255, 90, 31)) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    draw.rectangle([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], fill=(255, 255, 255))
    path = directory / name
    image.save(path, format="PNG")
    return path
