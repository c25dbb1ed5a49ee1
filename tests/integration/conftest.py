"""The product running for real: two daphne processes sharing a database and Redis.

``product`` (module scope) needs ``REDIS_URL`` and skips without it. The database both
processes share is a dedicated PostgreSQL database created on the server of ``DATABASE_URL``
when that is set (dropped afterwards), else a SQLite file (WAL) in a temporary folder. It is
migrated and seeded by a child process, so these tests do not use pytest-django's database.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..pg_scratch import drop_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROCESS_START_TIMEOUT = 30

SEED = r"""
import json
import django

django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from accounts.models import Membership, Organization, Shop, User
from customers.models import Customer
from inbox.buyer_identity import BuyerSession, session_token_issue
from inbox.models import Channel

shop = Shop.objects.create(organization=Organization.objects.create(name="集成测试"), name="集成店", slug="xproc")
Channel.objects.create(shop=shop, kind="web", name="网页聊天")
agents = []
for n, nickname in enumerate(["小美", "阿强"]):
    agent = User.objects.create_user(f"xproc-agent-{n}", display_name=nickname)
    Membership.objects.create(user=agent, shop=shop, role="agent")
    session = SessionStore()
    session[SESSION_KEY] = str(agent.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
    session.create()
    agents.append({"id": agent.pk, "session": session.session_key})
tokens = [
    session_token_issue(BuyerSession.of(Customer.objects.create(shop=shop, platform_buyer_id=f"visitor-{n}", nickname=f"买家{n}")))
    for n in range(4)
]
print(json.dumps({"slug": shop.slug, "agents": agents, "buyer_tokens": tokens}))
"""



@pytest.fixture
def postgres_only():
    """Skip outside CI's PostgreSQL pass (where the ``postgres`` marker must not skip)."""
    from django.db import connection

    if not os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL is not set: this test needs a PostgreSQL server")
    if connection.vendor != "postgresql":
        pytest.skip(f"DATABASE_URL points to {connection.vendor}, not PostgreSQL")


@dataclass
class Product:
    ports: list[int]
    slug: str
    agents: list[dict]  # {"id", "session"}
    buyer_tokens: list[str]

    def url(self, process: int, path: str) -> str:
        return f"ws://127.0.0.1:{self.ports[process]}{path}"

    def origin(self, process: int) -> str:
        return f"http://127.0.0.1:{self.ports[process]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="dianxiaoer.settings",
        SECRET_KEY="integration-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DEBUG="0",
        HTTPS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@contextmanager
def shared_database(tmp: Path):
    """Env entries naming a fresh database both processes use."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield {"DXE_VAR_DIR": str(tmp)}
        return
    import psycopg2

    parts = urllib.parse.urlsplit(url)
    name = f"dxe_xproc_{os.getpid()}"
    admin = dict(
        host=parts.hostname, port=parts.port or 5432, user=urllib.parse.unquote(parts.username or ""),
        password=urllib.parse.unquote(parts.password or ""), dbname=parts.path.lstrip("/") or "postgres",
    )
    connection = psycopg2.connect(**admin)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield {"DXE_VAR_DIR": str(tmp), "DATABASE_URL": parts._replace(path=f"/{name}").geturl(), "CONN_MAX_AGE": "0"}
    finally:
        with connection.cursor() as cursor:
            drop_database(cursor, name)
        connection.close()


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + PROCESS_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not listen on {port}:\n{log.read_text()}")


@contextmanager
def daphne_processes(env: dict, count: int, logs: Path):
    processes = []
    try:
        ports = []
        for n in range(count):
            port = free_port()
            log = logs / f"daphne-{n}.log"
            handle = log.open("wb")
            process = subprocess.Popen(
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "dianxiaoer.asgi:application"],
                cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
            )
            handle.close()
            processes.append(process)
            wait_for_port(port, process, log)
            ports.append(port)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("needs Redis: set REDIS_URL (the cross-process channel layer)")
    tmp = tmp_path_factory.mktemp("xproc")
    with shared_database(tmp) as db_env:
        env = child_env({"REDIS_URL": redis_url, **db_env})
        data = _migrated_and_seeded(env)
        with daphne_processes(env, 2, tmp) as ports:
            yield Product(ports=ports, **data)


def _migrated_and_seeded(env: dict) -> dict:
    python = str(BIN / "python")
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run([python, "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(seeded.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def embedded_product(tmp_path_factory):
    """One daphne on the embedded (in-memory) layer; ``product.env`` runs sibling processes."""
    tmp = tmp_path_factory.mktemp("embedded")
    with shared_database(tmp) as db_env:
        env = child_env({"CHANNEL_RELAY_SOCKET": str(tmp / "relay.sock"), **db_env})
        env.pop("REDIS_URL", None)
        data = _migrated_and_seeded(env)
        with daphne_processes(env, 1, tmp) as ports:
            product = Product(ports=ports, **data)
            product.env = env
            yield product
