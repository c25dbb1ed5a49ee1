#!/usr/bin/env python
"""Buyer-to-agent delivery over the real websockets, and two floors: a bare echo and a bare relay.

    .venv/bin/python bench/ws_latency.py --buyers 500 --agents 50 --interval 2 --duration 20

Starts daphne itself on loopback: one process on the embedded (in-memory) layer, or two
with ``REDIS_URL`` set (buyers and agents spread over both as a load balancer would, each
buyer's agent on the other process, so every message crosses Redis). The database is a fresh SQLite file in a temporary folder, or a fresh database on the
server of ``DATABASE_URL`` (dropped afterwards). It seeds one shop with N buyers (each with an
open conversation and a session token) and M agents (each with a login session), connects
them all with the ``websockets`` library, and has every buyer send one message every
``interval`` seconds (random phase). Conversations are assigned round-robin, so each agent
serves N/M buyers, as a shop's agents do. Each agent shows the conversation list
``--list-view`` (``mine`` by default, as agents at work do; ``all`` as a supervisor's screen,
which gets every conversation's row). Each agent times the arrival of the full
``message.created`` of its own conversations (buyer-to-agent delivery) and, showing ``all``,
of the coalesced ``list.update`` rows of the others (list latency); the script prints
messages/s, p50/p99 of both, lost and duplicated deliveries, and the CPU each server process
used. Then it runs the same load of frames against the floors of ``bench/echo_asgi.py``: a
bare echo consumer (round trips: the websocket stack alone) and a bare relay (each buyer's
frame to its agent through one group send of the same layer, on as many processes: the
stack plus the layer, with no database and no application code).

Everything stops by itself: sends end after ``--duration`` s, deliveries are awaited at most
``--drain`` s more, and the servers are terminated on exit. The exit status is 1 when a stored
message was lost or delivered twice, or an error frame came back (an overloaded server's
backlog is reported, not failed).
"""
import argparse
import asyncio
import gc
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TIMELINE = []
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SEED = r"""
import json
import sys

import django

django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from accounts.models import Membership, Organization, Shop, User
from customers.models import Customer
from inbox import services
from inbox.buyer_identity import BuyerSession, session_token_issue
from inbox.models import Channel, Conversation

buyers, agents, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
shop = Shop.objects.create(organization=Organization.objects.create(name="压测"), name="压测店", slug="bench")
channel = Channel.objects.create(shop=shop, kind="web", name="网页聊天")
sessions, users = [], []
for n in range(agents):
    user = User.objects.create_user(f"bench-agent-{n}", display_name=f"客服{n}")
    Membership.objects.create(user=user, shop=shop, role="agent")
    users.append(user)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    sessions.append(session.session_key)
customers = Customer.objects.bulk_create(
    [Customer(shop=shop, platform_buyer_id=f"bench-{n}", nickname=f"买家{n}") for n in range(buyers)]
)
conversations = []
for n, customer in enumerate(customers):
    conversation = services.conversation_open(channel=channel, customer=customer)
    services.conversation_assign(conversation=conversation, assignee=users[n % agents], actor=None)
    conversations.append(conversation.pk)
tokens = [session_token_issue(BuyerSession.of(customer)) for customer in customers]
with open(out, "w") as handle:
    json.dump({"slug": shop.slug, "sessions": sessions, "tokens": tokens, "conversations": conversations}, handle)
"""


# --- Processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


@contextmanager
def shared_database(tmp: Path):
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield {"DXE_VAR_DIR": str(tmp)}
        return
    import psycopg2

    sys.path.insert(0, str(ROOT))
    from tests.pg_scratch import drop_database

    parts = urllib.parse.urlsplit(url)
    name = f"dxe_bench_{os.getpid()}"
    connection = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=urllib.parse.unquote(parts.username or ""),
        password=urllib.parse.unquote(parts.password or ""),
        dbname=parts.path.lstrip("/") or "postgres",
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield {"DXE_VAR_DIR": str(tmp), "DATABASE_URL": parts._replace(path=f"/{name}").geturl()}
    finally:
        with connection.cursor() as cursor:
            drop_database(cursor, name)
        connection.close()


def child_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="dianxiaoer.settings",
        SECRET_KEY="bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789",
        DEBUG="0",
        HTTPS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@contextmanager
def daphne(env: dict, count: int, app: str, logs: Path):
    processes, ports = [], []
    try:
        for n in range(count):
            port = free_port()
            log = logs / f"daphne-{app.split(':')[0]}-{n}.log"
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), app],
                    cwd=ROOT,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"daphne exited:\n{log.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"daphne did not start:\n{log.read_text()}") from None
                    time.sleep(0.1)
            ports.append(port)
        yield ports, [p.pid for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- Measuring --------------------------------------------------------------------------


@contextmanager
def no_client_gc():
    """No garbage collection in this load generator while it times: its collections of the
    frames it parsed took 4-50 ms each, and every message arriving meanwhile looked that much
    slower. What the client allocates is freed by reference counting."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


async def open_many(factories, concurrency: int = 50) -> list:
    gate = asyncio.Semaphore(concurrency)

    async def one(factory):
        async with gate:
            return await factory()

    return await asyncio.gather(*(one(f) for f in factories))


# With two processes, buyer n is on process n % 2 and agent n % M (its conversation's
# assignee; M even) on the other one: the sockets are spread as a load balancer would, and
# every message still crosses the layer.
def buyer_port(ports: list[int], n: int) -> int:
    return ports[n % len(ports)]


def agent_port(ports: list[int], n: int) -> int:
    return ports[(n + 1) % len(ports)]


async def run_product(args, ports: list[int], seed: dict) -> dict:
    sent: dict[str, float] = {}
    ack_latency: list[float] = []
    acked: set[str] = set()
    last_ack = 0.0
    delivery: list[float] = []
    seen: set[tuple[int, str]] = set()
    duplicates = 0
    errors: list[dict] = []

    async def open_agent(n: int, session: str):
        ws = await connect(
            f"ws://127.0.0.1:{agent_port(ports, n)}/ws/agent/",
            origin=f"http://127.0.0.1:{agent_port(ports, n)}",
            additional_headers={"Cookie": f"sessionid={session}"},
            open_timeout=60,
            max_queue=None,
        )
        await ws.recv()  # hello
        await ws.send(json.dumps({"type": "list", "view": args.list_view}))
        await ws.recv()  # listing
        return ws

    async def open_buyer(n: int, token: str):
        ws = await connect(
            f"ws://127.0.0.1:{buyer_port(ports, n)}/ws/chat/{seed['slug']}/?t={token}",
            origin=f"http://127.0.0.1:{buyer_port(ports, n)}",
            open_timeout=60,
            max_queue=None,
        )
        await ws.recv()  # hello
        return ws

    agents = await open_many([lambda n=n, s=s: open_agent(n, s) for n, s in enumerate(seed["sessions"])])
    buyers = await open_many([lambda n=n, t=t: open_buyer(n, t) for n, t in enumerate(seed["tokens"])])
    print(f"  connected {len(buyers)} buyers and {len(agents)} agents over {len(ports)} server process(es)")

    buyer_of = {conversation_id: n for n, conversation_id in enumerate(seed["conversations"])}
    row_latency: list[float] = []
    rows_seen: set[tuple[int, str]] = set()

    async def agent_reader(index: int, ws) -> None:
        nonlocal duplicates
        async for raw in ws:
            arrived = time.perf_counter()
            if raw.startswith('{"type":"list.update"'):
                for row in json.loads(raw)["conversations"]:
                    buyer = buyer_of.get(row["id"])
                    if buyer is None or buyer % len(agents) == index:
                        continue  # its own conversations are timed by their events
                    client_msg_id = f"b{buyer}-{row['last_message_preview'].rsplit(' ', 1)[-1]}"
                    started = sent.get(client_msg_id)
                    if started is not None and started >= measure_from and (index, client_msg_id) not in rows_seen:
                        rows_seen.add((index, client_msg_id))
                        row_latency.append(arrived - started)
                continue
            if '"message.created"' not in raw:
                continue
            frame = json.loads(raw)
            client_msg_id = frame["event"]["message"]["client_msg_id"]
            started = sent.get(client_msg_id)
            if started is None:
                continue
            key = (index, client_msg_id)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            if started >= measure_from:
                delivery.append(arrived - started)
                TIMELINE.append((time.time() - (arrived - started), arrived - started, index % 2))

    async def buyer_reader(ws) -> None:
        nonlocal last_ack
        async for raw in ws:
            if raw.startswith('{"type":"ack"'):
                frame = json.loads(raw)
                if sent[frame["client_msg_id"]] >= measure_from:
                    ack_latency.append(time.perf_counter() - sent[frame["client_msg_id"]])
                acked.add(frame["client_msg_id"])
                last_ack = time.perf_counter()
            elif raw.startswith('{"type":"error"'):
                errors.append(json.loads(raw))

    stop_at = time.perf_counter() + args.duration
    # Latencies count from the second round of messages: the first one pays for warm-up
    # (first queries, connections, code paths) and is not what a running server does.
    measure_from = time.perf_counter() + args.interval

    async def buyer_writer(index: int, ws) -> None:
        await asyncio.sleep(random.random() * args.interval)
        n = 0
        while time.perf_counter() < stop_at:
            client_msg_id = f"b{index}-{n}"
            sent[client_msg_id] = time.perf_counter()
            await ws.send(json.dumps({"type": "send", "client_msg_id": client_msg_id, "text": f"压测消息 {n}"}))
            n += 1
            await asyncio.sleep(args.interval)

    readers = [asyncio.create_task(agent_reader(i, ws)) for i, ws in enumerate(agents)]
    readers += [asyncio.create_task(buyer_reader(ws)) for ws in buyers]
    started = time.perf_counter()
    with no_client_gc():
        await asyncio.gather(*(buyer_writer(i, ws) for i, ws in enumerate(buyers)))
        send_window = time.perf_counter() - started
        drain_until = time.perf_counter() + args.drain
        while len(seen) < len(sent) and time.perf_counter() < drain_until:
            await asyncio.sleep(0.1)
    json.dump(TIMELINE, open("/tmp/prof/timeline.json", "w"))
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in agents + buyers), return_exceptions=True)
    # A stored (acknowledged) message its agent never got is lost; one not yet acknowledged when
    # the drain ended was still queued on the server (overload), not lost. Acks leave before
    # the event is published, so an overloaded server can also still owe events of acked
    # messages when the drain ends: rerun with a longer --drain to tell that from a loss.
    expected = len(acked)
    delivered = sum(1 for _, client_msg_id in seen if client_msg_id in acked)
    return {
        "sent": len(sent),
        "acked": len(acked),
        "send_window": send_window,
        "store_window": max(1e-9, last_ack - min(sent.values(), default=last_ack)),
        "expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "duplicates": duplicates,
        "delivery": delivery,
        "rows": row_latency,
        "ack": ack_latency,
        "measured": len(ack_latency),
        "errors": errors,
    }


async def run_floor(args, senders: list, receivers: list, address) -> dict:
    """Each sender sends a frame every ``interval`` s (random phase) that comes back to a
    receiver stamped with its send time; ``address(n)`` adds what routes sender n's frames."""
    times: list[float] = []
    sent = 0

    async def reader(ws) -> None:
        async for raw in ws:
            times.append(time.perf_counter() - json.loads(raw)["t"])

    stop_at = time.perf_counter() + args.duration

    async def writer(index: int, ws) -> None:
        nonlocal sent
        await asyncio.sleep(random.random() * args.interval)
        n = 0
        while time.perf_counter() < stop_at:
            sent += 1
            frame = {"type": "send", "client_msg_id": f"b{index}-{n}", "text": f"压测消息 {n}", "t": time.perf_counter()}
            await ws.send(json.dumps({**frame, **address(index)}))
            n += 1
            await asyncio.sleep(args.interval)

    readers = [asyncio.create_task(reader(ws)) for ws in receivers]
    with no_client_gc():
        await asyncio.gather(*(writer(i, ws) for i, ws in enumerate(senders)))
        drain_until = time.perf_counter() + args.drain
        while len(times) < sent and time.perf_counter() < drain_until:
            await asyncio.sleep(0.1)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in {*senders, *receivers}), return_exceptions=True)
    return {"sent": sent, "received": len(times), "times": times}


def floor_socket(port: int, path: str):
    return lambda: connect(f"ws://127.0.0.1:{port}/{path}", open_timeout=60, max_queue=None)


async def run_echo(args, port: int) -> dict:
    sockets = await open_many([floor_socket(port, "echo/")] * args.buyers)
    return await run_floor(args, sockets, sockets, lambda n: {})


async def run_relay(args, ports: list[int]) -> dict:
    """Buyer n's frames go to agent n % M through the layer, placed on processes as the product's."""
    agents = await open_many([floor_socket(agent_port(ports, m), f"relay/a{m}/") for m in range(args.agents)])
    buyers = await open_many([floor_socket(buyer_port(ports, n), f"relay/b{n}/") for n in range(args.buyers)])
    return await run_floor(args, buyers, agents, lambda n: {"to": f"a{n % args.agents}"})


# --- Main ---------------------------------------------------------------------------------


def report_product(layer: str, database: str, args, result: dict, cpu: list[float], client_cpu: float) -> None:
    rate = result["acked"] / result["store_window"]
    print(
        f"\n== product, {layer} layer, {database}: {args.buyers} buyers, {args.agents} agents showing list "
        f"\"{args.list_view}\", one message per buyer every {args.interval} s"
    )
    backlog = result["sent"] - result["acked"]
    print(
        f"  messages sent {result['sent']} ({result['sent'] / args.duration:.0f}/s offered), stored and acked "
        f"{result['acked']} -> {rate:.1f} messages/s" + (f"; {backlog} still queued when the drain ended" if backlog else "")
    )
    print(
        f"  deliveries of stored messages to their agent {result['delivered']}/{result['expected']}, "
        f"lost {result['lost']}, duplicated {result['duplicates']}"
        + (" (overloaded? a longer --drain tells a backlog from a loss)" if result["lost"] and backlog else "")
    )
    d, a = result["delivery"], result["ack"]
    print(f"  latencies of the {result['measured']} messages sent after the first {args.interval:g} s:")
    print(f"  buyer->agent latency p50 {ms(percentile(d, .5))}, p99 {ms(percentile(d, .99))}, max {ms(max(d) if d else float('nan'))}")
    print(f"  buyer send->ack      p50 {ms(percentile(a, .5))}, p99 {ms(percentile(a, .99))}")
    r = result["rows"]
    if args.list_view == "all":
        print(f"  list row at the other agents p50 {ms(percentile(r, .5))}, p99 {ms(percentile(r, .99))} ({len(r)} rows timed)")
    else:
        print(f"  list rows of other agents' conversations: {len(r)} (the agents show the list \"{args.list_view}\")")
    print(f"  server CPU seconds per process {', '.join(f'{c:.1f}' for c in cpu)}; bench client {client_cpu:.1f}")
    if result["errors"]:
        codes = {}
        for error in result["errors"]:
            codes[error["code"]] = codes.get(error["code"], 0) + 1
        print(f"  error frames: {codes}")


def report_floor(title: str, measure: str, args, result: dict, cpu: list[float]) -> None:
    times = result["times"]
    print(f"\n== floor: {title}, one frame each every {args.interval} s")
    print(
        f"  frames {result['sent']}, received {result['received']}; {measure} p50 {ms(percentile(times, .5))}, "
        f"p99 {ms(percentile(times, .99))}; server CPU {', '.join(f'{c:.1f}' for c in cpu)} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--agents", type=int, default=6, help="an even number on Redis (see buyer_port)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between one buyer's messages")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--drain", type=float, default=15.0, help="at most this long to wait for late deliveries")
    parser.add_argument(
        "--list-view",
        choices=["mine", "unassigned", "all"],
        default="mine",
        help="the conversation list each agent shows: mine (default: agents at work), or all (a supervisor's "
        "screen: every agent also gets every other conversation's list row)",
    )
    parser.add_argument("--layer", choices=["auto", "memory", "redis"], default="auto")
    parser.add_argument(
        "--tmp", default=None, help="folder for the SQLite database and logs (e.g. /dev/shm to leave disk waits out)"
    )
    parser.add_argument("--skip-echo", action="store_true", help="skip the floors (bare echo and bare relay)")
    parser.add_argument("--skip-product", action="store_true")
    args = parser.parse_args()

    redis_url = os.environ.get("REDIS_URL", "")
    layer = args.layer if args.layer != "auto" else ("redis" if redis_url else "memory")
    if layer == "redis" and not redis_url:
        parser.error("--layer redis needs REDIS_URL")
    if layer == "redis" and args.agents % 2:
        parser.error("--agents must be even on Redis, so that each buyer's agent is on the other process")

    failed = False
    with tempfile.TemporaryDirectory(prefix="dxe-bench-", dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_product:
            with shared_database(tmp) as db_env:
                env = child_env({**db_env, **({"REDIS_URL": redis_url} if layer == "redis" else {})})
                python = str(BIN / "python")
                print(f"preparing database ({'PostgreSQL' if 'DATABASE_URL' in db_env else 'SQLite'}) ...")
                subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
                seed_file = tmp / "seed.json"
                subprocess.run(
                    [python, "-c", SEED, str(args.buyers), str(args.agents), str(seed_file)], cwd=ROOT, env=env, check=True
                )
                seed = json.loads(seed_file.read_text())
                with daphne(env, 2 if layer == "redis" else 1, "dianxiaoer.asgi:application", tmp) as (ports, pids):
                    before = [cpu_seconds(pid) for pid in pids]
                    client_before = resource.getrusage(resource.RUSAGE_SELF)
                    result = asyncio.run(
                        asyncio.wait_for(run_product(args, ports, seed), timeout=args.duration + args.drain + 180)
                    )
                    cpu = [cpu_seconds(pid) - b for pid, b in zip(pids, before)]
                    client_after = resource.getrusage(resource.RUSAGE_SELF)
                client_cpu = (client_after.ru_utime + client_after.ru_stime) - (client_before.ru_utime + client_before.ru_stime)
                report_product(
                    layer, "PostgreSQL" if "DATABASE_URL" in db_env else "SQLite", args, result, cpu, client_cpu
                )
                failed = bool(result["lost"] or result["duplicates"] or result["errors"])

        if not args.skip_echo:
            env = child_env({})
            env.pop("DJANGO_SETTINGS_MODULE")
            with daphne(env, 1, "bench.echo_asgi:application", tmp) as (ports, pids):
                before = cpu_seconds(pids[0])
                result = asyncio.run(asyncio.wait_for(run_echo(args, ports[0]), timeout=args.duration + 120))
                cpu = [cpu_seconds(pids[0]) - before]
            report_floor(f"bare echo consumer, {args.buyers} clients", "round trip", args, result, cpu)
            failed = failed or result["received"] < result["sent"]

            relay_env = child_env({"REDIS_URL": redis_url} if layer == "redis" else {})
            relay_env.pop("DJANGO_SETTINGS_MODULE")
            with daphne(relay_env, 2 if layer == "redis" else 1, "bench.echo_asgi:application", tmp) as (ports, pids):
                before = [cpu_seconds(pid) for pid in pids]
                result = asyncio.run(asyncio.wait_for(run_relay(args, ports), timeout=args.duration + 120))
                cpu = [cpu_seconds(pid) - b for pid, b in zip(pids, before)]
            report_floor(
                f"bare relay over the {layer} layer, {args.buyers} buyers to {args.agents} agents",
                "buyer->agent",
                args,
                result,
                cpu,
            )
            failed = failed or result["received"] < result["sent"]
    if failed:
        print("\nFAILED: lost or duplicated deliveries, or error frames (see above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
