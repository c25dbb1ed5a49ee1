#!/usr/bin/env python3
"""Set up and start dianxiaoer (店小二) on a machine with nothing but Python 3.11.

    python3 dianxiaoer/bootstrap.py run [--port 8000]   # migrate, demo data, web + worker
    python3 dianxiaoer/bootstrap.py test [pytest args]  # the test suite

Standard library only: it runs before Django is installed. It creates ``.venv`` when
missing and installs ``requirements.txt`` into it whenever that file changed (a hash is kept
in ``.venv``). Django code never imports this module.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
REQUIREMENTS = REPO / "requirements.txt"
HASH_FILE = VENV / ".dxe-requirements.sha256"
CHROMIUM = Path("/usr/bin/chromium")

# What ``run`` sets when the environment does not: a local, single-machine setup.
RUN_DEFAULTS = {"DEBUG": "1", "PYTHONUNBUFFERED": "1"}

# Must match accounts/management/commands/seed_demo.py (tests/accounts/test_seed_demo.py checks).
DEMO_LOGINS = [
    # username, password, 客服昵称, role
    ("agent1", "demo-pass-1", "小美", "agent"),
    ("agent2", "demo-pass-2", "阿强", "agent"),
    ("agent3", "demo-pass-3", "小雪", "agent"),
    ("lead1", "demo-lead-pass", "芳姐", "supervisor"),
    ("boss", "demo-admin-pass", "店长老王", "admin"),
]

STOP_TIMEOUT_SECONDS = 20
# daphne's own limit on an incoming websocket message and frame, stated rather than inherited:
# past it autobahn drops the TCP connection (the app answers frames up to it with errors).
WEBSOCKET_CEILING = ["--websocket-max-message-size", "1048576", "--websocket-max-frame-size", "1048576"]


def say(text: str) -> None:
    print(f"[bootstrap] {text}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def requirements_hash() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"|{sys.version_info[0]}.{sys.version_info[1]}".encode())
    return digest.hexdigest()


def ensure_venv() -> Path:
    """Create the virtualenv when missing and install requirements.txt when it changed."""
    python = venv_python()
    if not python.exists():
        say(f"creating virtualenv {VENV}")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if result.returncode != 0 or not python.exists():
            say("could not create the virtualenv; on Debian/Ubuntu install python3-venv "
                "(apt-get install python3-venv) and try again")
            sys.exit(1)
    wanted = requirements_hash()
    current = HASH_FILE.read_text().strip() if HASH_FILE.exists() else ""
    if current != wanted:
        say("installing requirements.txt into .venv (first run or requirements changed)")
        cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(REQUIREMENTS)]
        if subprocess.run(cmd, cwd=REPO).returncode != 0:
            say("pip install failed; fix the error above and run again")
            sys.exit(1)
        HASH_FILE.write_text(wanted + "\n")
    return python


# --- run ------------------------------------------------------------------------------------


def manage(python: Path, env: dict, *args: str) -> None:
    cmd = [str(python), "manage.py", *args]
    say("$ " + " ".join(cmd[1:]))
    result = subprocess.run(cmd, cwd=REPO, env=env)
    if result.returncode != 0:
        say(f"manage.py {args[0]} failed (exit {result.returncode})")
        sys.exit(result.returncode)


def wait_for_port(host: str, port: int, timeout: float, alive) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


class Stop(Exception):
    """Raised from the signal handler to leave the wait loop."""


def stop_children(children: list[tuple[str, subprocess.Popen]]) -> None:
    """SIGTERM each child (celery stops its own pool), wait, then SIGKILL its process group."""
    for name, proc in children:
        if proc.poll() is None:
            say(f"stopping {name} (pid {proc.pid})")
            proc.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for name, proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in {STOP_TIMEOUT_SECONDS}s; killing it")
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def print_banner(url: str) -> None:
    line = "=" * 64
    rows = "\n".join(f"    {u:<8} / {p:<16} {nick}（{role}）" for u, p, nick, role in DEMO_LOGINS)
    print(
        f"\n{line}\n"
        f"  店小二 dianxiaoer is running:  {url}\n"
        f"  Agent inbox: {url}inbox/    Admin: {url}admin/    API docs: {url}api/docs/\n"
        f"  Buyer chat (try it in another browser): {url}chat/xiaoer-flagship/  ·  {url}chat/xiaoer-jd/\n\n"
        f"  Demo logins (username / password, 客服昵称):\n{rows}\n\n"
        f"  Press Ctrl-C to stop the web server and the worker.\n"
        f"{line}\n",
        flush=True,
    )


def cmd_run(args: argparse.Namespace) -> int:
    python = ensure_venv()
    env = dict(os.environ)
    for key, value in RUN_DEFAULTS.items():
        env.setdefault(key, value)
    port = int(args.port or env.get("PORT") or 8000)
    host = args.host
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")

    manage(python, env, "migrate", "--noinput")
    manage(python, env, "seed_demo")

    children: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, cmd: list[str]) -> None:
        say(f"starting {name}: " + " ".join(cmd[2:]))
        # Own process group: Ctrl-C reaches only us, and we stop each child (and its pool)
        # in order.
        children.append((name, subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)))

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exit_code = 0
    try:
        start(
            "web (daphne)",
            [
                str(python), "-m", "daphne", "-b", host, "-p", str(port),
                *WEBSOCKET_CEILING, "dianxiaoer.asgi:application",
            ],
        )
        # Warnings and errors only: beat's sweeps run every few seconds, and their routine
        # lines would push the banner (the logins) off the screen within a minute.
        start(
            "worker (celery + beat)",
            [
                str(python), "-m", "celery", "-A", "dianxiaoer", "worker", "-B",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler", "--loglevel=warning",
            ],
        )
        web = children[0][1]
        if not wait_for_port(host, port, 60, lambda: web.poll() is None):
            say(f"the web server did not come up on {host}:{port}")
            exit_code = 1
        else:
            print_banner(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/")
            while True:
                for name, proc in children:
                    if proc.poll() is not None:
                        say(f"{name} exited with code {proc.returncode}; stopping the rest")
                        exit_code = proc.returncode or 1
                        raise Stop(name)
                time.sleep(0.5)
    except Stop as stop:
        say(f"shutting down ({stop})")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(children)
    say("stopped")
    return exit_code


# --- test -----------------------------------------------------------------------------------


# Debian packages the tests use, each told by a file it installs: the browser tests drive
# Chromium, the catalog tests run GNU gettext. Without them those tests skip.
TEST_PACKAGES = {"chromium": CHROMIUM, "gettext": Path("/usr/bin/msgfmt")}


def ensure_test_packages() -> None:
    """Install the missing test packages when we can (root, Debian, apt)."""
    missing = [package for package, installed in TEST_PACKAGES.items() if not installed.exists()]
    if not missing:
        return
    named = " and ".join(missing)
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get") and Path("/etc/debian_version").exists()):
        say(f"{named} missing and cannot be installed here (needs root on Debian); the tests needing them will skip")
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *missing]):
        say(f"installing {named} for the tests: $ " + " ".join(cmd))
        if subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL).returncode != 0:
            say(f"installing {named} failed; the tests needing them will skip")
            return


def has_target(pytest_args: list[str]) -> bool:
    """True when the arguments already name test files or folders (``tests/inbox``, ``x.py::t``).

    Bare words are not taken as paths: they are usually option values (``-k accounts``).
    """
    for arg in pytest_args:
        if arg.startswith("-"):
            continue
        path = arg.split("::", 1)[0]
        looks_like_path = "::" in arg or "/" in path or path.endswith(".py") or path == "tests"
        if looks_like_path and (REPO / path).exists():
            return True
    return False


def cmd_test(pytest_args: list[str]) -> int:
    python = ensure_venv()
    ensure_test_packages()
    cmd = [str(python), "-m", "pytest"]
    if not has_target(pytest_args):
        cmd.append("tests")
    cmd += pytest_args
    say("$ " + " ".join(cmd[1:]))
    return subprocess.call(cmd, cwd=REPO)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if sys.version_info < (3, 11):
        say("Python 3.11 or newer is needed")
        return 1
    if argv and argv[0] == "test":
        return cmd_test(argv[1:])
    parser = argparse.ArgumentParser(prog="bootstrap.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, load demo data, start the web server and the worker")
    run.add_argument("--port", type=int, default=None, help="HTTP port (default: $PORT or 8000)")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sub.add_parser("test", help="run the test suite; extra arguments go to pytest")
    args = parser.parse_args(argv)
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
