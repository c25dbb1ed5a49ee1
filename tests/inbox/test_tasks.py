"""Outbound delivery of agent replies to a platform adapter, against a real local HTTP server.

Tests run Celery eagerly: ``self.retry`` re-runs the task inline and ignores the countdown,
so the full retry chain runs in milliseconds.
"""
import hmac
import json
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox import services, tasks
from inbox.models import Channel, Conversation, ConversationEvent, Message
from inbox.webhook import sign

from ..factories import ConversationFactory, MembershipFactory, png_upload
from ..fake_platform import FakePlatform

SECRET = "outbound-secret"


@pytest.fixture
def fake_platform():
    with FakePlatform() as platform:
        yield platform


@pytest.fixture
def platform_conversation(shop, fake_platform):
    channel = Channel.objects.create(
        shop=shop, kind=Channel.Kind.PLATFORM_API, name="淘宝", webhook_secret=SECRET, outbound_url=fake_platform.url
    )
    return ConversationFactory(shop=shop, channel=channel, customer__platform_buyer_id="tb-buyer-7")


@pytest.fixture
def agent_author(shop):
    return MembershipFactory(shop=shop, user__display_name="客服小美").user


def pending_reply(conversation, author, text="亲，有货的", client_msg_id=None):
    """An agent reply stored as delivery "pending", without running its on-commit delivery."""
    message, _ = services.message_send(
        conversation=conversation, sender_kind="agent", author=author, text=text, client_msg_id=client_msg_id
    )
    assert message.delivery_state == Message.Delivery.PENDING
    return message


def assert_signed(request):
    headers = request["headers"]
    timestamp = headers["X-Dxe-Timestamp"]
    assert abs(time.time() - int(timestamp)) < 60
    expected = sign(SECRET, timestamp, request["body"], outbound=True)
    assert hmac.compare_digest(headers["X-Dxe-Signature"], expected)


def test_success_marks_sent_and_posts_a_signed_body(platform_conversation, agent_author, fake_platform):
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.SENT
    assert message.delivery_attempts == 1
    assert message.delivered_at is not None
    assert (message.delivery_error_code, message.delivery_error_detail) == ("", "")

    [request] = fake_platform.requests
    assert request["path"] == "/dxe/outbound"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["headers"]["X-Dxe-Delivery"] == f"dxe:message:{message.pk}"
    assert_signed(request)
    body = json.loads(request["body"])
    assert body["id"] == f"dxe:message:{message.pk}"
    assert body["type"] == "message"
    assert body["buyer"] == {"id": "tb-buyer-7"}
    assert body["message"]["id"] == message.pk
    assert body["message"]["text"] == "亲，有货的"
    assert body["message"]["sender_kind"] == "agent"
    assert body["message"]["author"] == {"nickname": "客服小美"}
    # Agent-only fields stay home.
    assert "delivery_state" not in body["message"]
    assert "is_private" not in body["message"]


def test_images_go_as_absolute_signed_links_that_open_them(
    client, platform_conversation, agent_author, fake_platform, settings
):
    settings.SITE_URL = "https://kefu.example.com"
    message, _ = services.message_send(
        conversation=platform_conversation, sender_kind="agent", author=agent_author, text="", images=[png_upload()]
    )
    tasks.deliver_message.delay(message.pk)
    [attachment] = json.loads(fake_platform.requests[0]["body"])["message"]["attachments"]
    assert attachment["url"].startswith("https://kefu.example.com/")
    assert "?s=" in attachment["url"]
    assert client.get(attachment["url"].removeprefix("https://kefu.example.com")).status_code == 200


def test_without_site_url_an_image_reply_fails_saying_why_and_posts_nothing(
    platform_conversation, agent_author, fake_platform, settings
):
    settings.SITE_URL = ""
    message, _ = services.message_send(
        conversation=platform_conversation, sender_kind="agent", author=agent_author, text="", images=[png_upload()]
    )
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.FAILED
    assert (message.delivery_error_code, message.delivery_error_detail) == ("no_site_url", "")
    assert fake_platform.requests == []


def test_second_run_after_sent_does_nothing(platform_conversation, agent_author, fake_platform):
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.SENT
    assert message.delivery_attempts == 1
    assert len(fake_platform.requests) == 1


def test_server_error_is_retried_then_failed(platform_conversation, agent_author, fake_platform, monkeypatch):
    countdowns = []
    real_countdown = tasks.retry_countdown
    monkeypatch.setattr(tasks, "retry_countdown", lambda retries: countdowns.append(real_countdown(retries)) or 0)
    fake_platform.status = 500
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    attempts = tasks.MAX_DELIVERY_RETRIES + 1
    assert len(fake_platform.requests) == attempts
    assert message.delivery_state == Message.Delivery.FAILED
    assert message.delivery_attempts == attempts
    assert (message.delivery_error_code, message.delivery_error_detail) == ("http_5xx", "HTTP 500")
    assert message.delivered_at is None
    # Each attempt is signed afresh; the backoff doubles.
    for request in fake_platform.requests:
        assert_signed(request)
    assert len(countdowns) == tasks.MAX_DELIVERY_RETRIES
    assert [int(c // 5) for c in countdowns[:4]] == [1, 2, 4, 8]


def test_recovery_after_failed_attempts_ends_sent(platform_conversation, agent_author, fake_platform, monkeypatch):
    monkeypatch.setattr(tasks, "retry_countdown", lambda retries: 0)
    fake_platform.answers = [503, 429]  # then the default 200
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.SENT
    assert message.delivery_attempts == 3
    assert (message.delivery_error_code, message.delivery_error_detail) == ("", "")
    assert len(fake_platform.requests) == 3


@pytest.mark.parametrize("status, code", [(400, "http_4xx"), (401, "http_4xx"), (404, "http_4xx"), (302, "http_redirect")])
def test_client_errors_and_redirects_fail_at_once(platform_conversation, agent_author, fake_platform, status, code):
    fake_platform.status = status
    fake_platform.location = fake_platform.url + "/elsewhere"
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.FAILED
    assert (message.delivery_error_code, message.delivery_error_detail) == (code, f"HTTP {status}")
    assert len(fake_platform.requests) == 1  # no retries, and the redirect was not followed


def test_no_outbound_url_fails_without_a_request(platform_conversation, agent_author, fake_platform):
    Channel.objects.filter(pk=platform_conversation.channel_id).update(outbound_url="")
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.FAILED
    assert (message.delivery_error_code, message.delivery_error_detail) == ("no_outbound_url", "")
    assert message.delivery_attempts == 1
    assert fake_platform.requests == []


def test_inactive_channel_fails_without_a_request(platform_conversation, agent_author, fake_platform):
    message = pending_reply(platform_conversation, agent_author)
    Channel.objects.filter(pk=platform_conversation.channel_id).update(is_active=False)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.FAILED
    assert (message.delivery_error_code, message.delivery_error_detail) == ("channel_inactive", "")
    assert fake_platform.requests == []


def test_unreachable_platform_is_retried_then_failed(platform_conversation, agent_author, monkeypatch):
    monkeypatch.setattr(tasks, "retry_countdown", lambda retries: 0)
    with FakePlatform() as closed:
        url = closed.url
    Channel.objects.filter(pk=platform_conversation.channel_id).update(outbound_url=url)
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.FAILED
    assert message.delivery_attempts == tasks.MAX_DELIVERY_RETRIES + 1
    assert message.delivery_error_code == "refused"


def test_non_http_url_fails_at_once(platform_conversation, agent_author):
    Channel.objects.filter(pk=platform_conversation.channel_id).update(outbound_url="file:///etc/passwd")
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.FAILED
    assert message.delivery_attempts == 1
    assert (message.delivery_error_code, message.delivery_error_detail) == ("invalid_url", "file")


def test_failed_message_can_be_queued_again(platform_conversation, agent_author, fake_platform):
    fake_platform.status = 400
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    fake_platform.status = 200
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.SENT
    assert message.delivery_attempts == 2


def test_an_agents_retry_delivers_a_failed_reply(
    platform_conversation, agent_author, fake_platform, django_capture_on_commit_callbacks
):
    fake_platform.status = 404
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert (message.delivery_state, message.delivery_error_code) == (Message.Delivery.FAILED, "http_4xx")
    fake_platform.status = 200  # the adapter was fixed
    with django_capture_on_commit_callbacks(execute=True):
        services.message_delivery_retry(message=message, actor=agent_author)
    message.refresh_from_db()
    assert (message.delivery_state, message.delivery_error_code, message.delivery_attempts) == ("sent", "", 2)
    assert len(fake_platform.requests) == 2


def test_messages_not_for_the_platform_are_never_posted(platform_conversation, agent_author, fake_platform):
    buyer_message, _ = services.message_send(conversation=platform_conversation, sender_kind="buyer", text="在吗")
    note, _ = services.note_add(conversation=platform_conversation, author=agent_author, text="老客户")
    for message in (buyer_message, note):
        tasks.deliver_message.delay(message.pk)
        message.refresh_from_db()
        assert message.delivery_state == Message.Delivery.NONE
        assert message.delivery_attempts == 0
    tasks.deliver_message.delay(987654321)  # gone: nothing to do
    assert fake_platform.requests == []


def test_agent_reply_is_delivered_after_commit(
    platform_conversation, agent_author, fake_platform, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message, created = services.message_send(
            conversation=platform_conversation, sender_kind="agent", author=agent_author, text="已发货", client_msg_id="r1"
        )
        # Nothing leaves before the transaction commits.
        assert fake_platform.requests == []
    assert created
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.SENT
    [request] = fake_platform.requests
    assert_signed(request)
    assert json.loads(request["body"])["message"]["text"] == "已发货"


def test_web_channel_replies_are_not_delivered(conversation, agent_author, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message, _ = services.message_send(conversation=conversation, sender_kind="agent", author=agent_author, text="您好")
    assert message.delivery_state == Message.Delivery.NONE
    message.refresh_from_db()
    assert message.delivery_attempts == 0
    assert callbacks  # realtime publish only


def test_retry_countdown_grows_and_is_capped():
    assert 5 <= tasks.retry_countdown(0) <= 5.5
    assert 40 <= tasks.retry_countdown(3) <= 44
    assert tasks.BACKOFF_MAX_SECONDS <= tasks.retry_countdown(20) <= tasks.BACKOFF_MAX_SECONDS * 1.1


def test_an_outbound_url_on_a_private_address_fails_for_good_unsent(
    platform_conversation, agent_author, fake_platform, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE = False  # as in production: the stub platform is on loopback
    Channel.objects.filter(pk=platform_conversation.channel_id).update(
        outbound_url=fake_platform.url.replace("127.0.0.1", "localhost")
    )
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert (message.delivery_state, message.delivery_attempts) == (Message.Delivery.FAILED, 1)
    # The address it resolved to, never the URL's host: agents may not see outbound URLs.
    assert message.delivery_error_code == "blocked_address"
    assert message.delivery_error_detail in ("127.0.0.1", "::1")
    assert fake_platform.requests == []


# --- Why a delivery failed: one code per kind of failure ------------------------------------


@contextmanager
def raw_server(answer: bytes | None):
    """A TCP server on loopback that answers each connection with ``answer`` and hangs up,
    or, with None, accepts connections (the kernel's backlog) and never answers them."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    stop = threading.Event()

    def serve():
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    if answer is not None:
        thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/dxe/outbound"
    finally:
        stop.set()
        if answer is not None:
            thread.join(timeout=5)
        server.close()


def failed_delivery(conversation, author, url: str) -> Message:
    """A reply delivered to ``url`` with every retry run at once: its final recorded state."""
    Channel.objects.filter(pk=conversation.channel_id).update(outbound_url=url)
    message = pending_reply(conversation, author)
    tasks.deliver_message.delay(message.pk)
    message.refresh_from_db()
    assert message.delivery_state == Message.Delivery.FAILED
    return message


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(tasks, "retry_countdown", lambda retries: 0)


def test_a_platform_that_never_answers_is_a_timeout(platform_conversation, agent_author, monkeypatch, no_backoff):
    monkeypatch.setattr(tasks, "DELIVERY_TIMEOUT_SECONDS", 0.1)
    with raw_server(None) as url:
        message = failed_delivery(platform_conversation, agent_author, url)
    assert (message.delivery_error_code, message.delivery_error_detail) == ("timeout", "")
    assert message.delivery_attempts == tasks.MAX_DELIVERY_RETRIES + 1


def test_an_answer_that_is_not_http_is_an_invalid_response(platform_conversation, agent_author, no_backoff):
    with raw_server(b"HELLO THERE\r\n\r\n") as url:
        message = failed_delivery(platform_conversation, agent_author, url)
    assert (message.delivery_error_code, message.delivery_error_detail) == ("invalid_response", "BadStatusLine")


def test_a_host_that_does_not_resolve_is_a_dns_failure(platform_conversation, agent_author, monkeypatch, no_backoff):
    def unknown_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown_host)
    message = failed_delivery(platform_conversation, agent_author, "https://adapter.example/out")
    assert (message.delivery_error_code, message.delivery_error_detail) == ("dns", "")


def test_https_to_a_plain_http_server_is_a_tls_failure(platform_conversation, agent_author, fake_platform, no_backoff):
    message = failed_delivery(platform_conversation, agent_author, fake_platform.url.replace("http:", "https:"))
    assert message.delivery_error_code == "tls"
    assert message.delivery_error_detail  # OpenSSL's reason, e.g. WRONG_VERSION_NUMBER
    assert "127.0.0.1" not in message.delivery_error_detail


@pytest.mark.parametrize(
    "error, code, detail",
    [
        (OSError(101, "Network is unreachable"), "connection", "[Errno 101] Network is unreachable"),
        (ConnectionResetError(104, "Connection reset by peer"), "connection", "[Errno 104] Connection reset by peer"),
        (ConnectionRefusedError(111, "Connection refused"), "refused", ""),
        (TimeoutError("timed out"), "timeout", ""),
        ("no host given", "invalid_url", ""),
    ],
)
def test_network_failures_map_to_codes(error, code, detail):
    failure = tasks.network_failure(error)
    assert (failure.code, failure.detail) == (code, detail)
    assert failure.permanent is (code == "invalid_url")


@pytest.mark.parametrize(
    "status, code, permanent",
    [(301, "http_redirect", True), (403, "http_4xx", True), (429, "http_4xx", False), (502, "http_5xx", False), (799, "invalid_response", False)],
)
def test_http_statuses_map_to_codes(status, code, permanent):
    failure = tasks.http_failure(status)
    assert (failure.code, failure.detail, failure.permanent) == (code, f"HTTP {status}", permanent)


# --- Lost deliveries: due times and the sweep -----------------------------------------------


def make_overdue(message):
    Message.objects.filter(pk=message.pk).update(delivery_due_at=timezone.now() - timedelta(seconds=1))


def test_a_new_platform_reply_is_due_within_the_overdue_window(platform_conversation, agent_author):
    window = timedelta(seconds=services.DELIVERY_OVERDUE_SECONDS)
    before = timezone.now()
    message = pending_reply(platform_conversation, agent_author)
    message.refresh_from_db()
    assert before + window <= message.delivery_due_at <= timezone.now() + window


def test_a_retried_attempt_is_due_after_its_countdown_and_an_outcome_is_never_due(
    platform_conversation, agent_author, fake_platform, monkeypatch
):
    outcomes = []
    real_update = tasks.message_delivery_update

    def recording_update(**kwargs):
        message = real_update(**kwargs)
        outcomes.append((message.delivery_state, message.delivery_due_at, timezone.now()))
        return message

    monkeypatch.setattr(tasks, "message_delivery_update", recording_update)
    monkeypatch.setattr(tasks, "retry_countdown", lambda retries: 300)
    fake_platform.answers = [503]
    message = pending_reply(platform_conversation, agent_author)
    tasks.deliver_message.delay(message.pk)

    (first_state, first_due, first_at), (second_state, second_due, _) = outcomes
    assert first_state == Message.Delivery.PENDING
    assert first_due >= first_at + timedelta(seconds=300 + services.DELIVERY_OVERDUE_SECONDS - 1)
    assert (second_state, second_due) == (Message.Delivery.SENT, None)


def test_the_sweep_delivers_an_overdue_reply_and_leaves_the_rest(
    platform_conversation, agent_author, fake_platform, django_capture_on_commit_callbacks
):
    lost = pending_reply(platform_conversation, agent_author, text="任务丢了的回复")
    waiting = pending_reply(platform_conversation, agent_author, text="还没到期的回复")
    failed = pending_reply(platform_conversation, agent_author, text="已失败的回复")
    Message.objects.filter(pk=failed.pk).update(delivery_state=Message.Delivery.FAILED)
    make_overdue(lost)
    make_overdue(failed)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_overdue_deliveries.delay().get() == 1

    [request] = fake_platform.requests
    assert json.loads(request["body"])["message"]["text"] == "任务丢了的回复"
    states = dict(Message.objects.filter(pk__in=[lost.pk, waiting.pk, failed.pk]).values_list("pk", "delivery_state"))
    assert states == {lost.pk: "sent", waiting.pk: "pending", failed.pk: "failed"}


def test_a_swept_delivery_is_due_again_later_so_the_next_sweep_leaves_it(
    platform_conversation, agent_author, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.deliver_message, "delay", queued.append)
    message = pending_reply(platform_conversation, agent_author)
    make_overdue(message)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.delivery_requeue_overdue() == [message.pk]
        assert services.delivery_requeue_overdue() == []

    assert queued == [message.pk]
    message.refresh_from_db()
    assert message.delivery_due_at > timezone.now() + timedelta(seconds=services.DELIVERY_OVERDUE_SECONDS - 5)


# --- Waking snoozed conversations ----------------------------------------------------------------


def test_wake_snoozed_opens_the_due_conversations_once(shop, agent_author, django_capture_on_commit_callbacks):
    due, not_yet = ConversationFactory(shop=shop), ConversationFactory(shop=shop)
    for conversation in (due, not_yet):
        services.conversation_snooze(
            conversation=conversation, until=timezone.now() + timedelta(hours=1), actor=agent_author
        )
    Conversation.objects.filter(pk=due.pk).update(snoozed_until=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.wake_snoozed.delay().get() == 1
        assert tasks.wake_snoozed.delay().get() == 0  # a redelivered or overlapping run changes nothing

    statuses = dict(Conversation.objects.filter(pk__in=[due.pk, not_yet.pk]).values_list("pk", "status"))
    assert statuses == {due.pk: "open", not_yet.pk: "snoozed"}
    assert ConversationEvent.objects.filter(conversation=due, data__reason="snooze_ended").count() == 1


@pytest.mark.parametrize(
    "sweep, period",
    [(tasks.requeue_overdue_deliveries, 60.0), (tasks.wake_snoozed, 15.0), (tasks.expire_presence, 30.0)],
    ids=["deliveries", "snoozed", "presence"],
)
def test_beat_runs_each_sweep_on_its_period_and_drops_runs_no_worker_took(db, settings, sweep, period):
    """A run no worker started within its period expires: a worker back from an outage does
    one sweep, not the backlog of every run beat queued meanwhile."""
    from django_celery_beat.schedulers import ModelEntry

    from dianxiaoer.celery import app

    [(name, entry)] = [(name, entry) for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if entry["task"] == sweep.name]
    assert entry["schedule"] == period
    assert sweep.name in app.tasks  # registered under the name beat sends
    assert sweep.acks_late
    assert ModelEntry.from_entry(name, app=app, **entry).options["expires"] == period  # as beat's scheduler installs it
