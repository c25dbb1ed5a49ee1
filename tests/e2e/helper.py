"""The browser tests' hands in the database: a child process speaking JSON lines.

The browser tests do not use pytest-django's test database: the app under test runs in a
daphne subprocess, and it needs a database both it and the test can reach (an in-memory
SQLite one cannot be shared between processes). ``conftest.py`` creates a dedicated database,
starts daphne on it, and starts this process on it too; a test seeds rows and reads them back
through :class:`tests.e2e.conftest.Helper`, one JSON line per call:

    -> {"op": "seed", "args": {...}}
    <- {"ok": true, "result": ...}   or   {"ok": false, "error": "..."}

Every write goes through the services, like real traffic.
"""
import datetime
import json
import sys
import time
import traceback
import uuid

import django

OUT = sys.stdout
sys.stdout = sys.stderr  # nothing but answers may reach the test on the real stdout

django.setup()

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Membership, Organization, Role, Shop, User  # noqa: E402
from accounts.services import membership_add  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.services import customer_get_or_create, customer_tag_add, customer_update  # noqa: E402
from inbox import buyer_identity, services, webhook  # noqa: E402
from inbox.models import Channel, Conversation, ConversationEvent, Message  # noqa: E402
from orders.models import Order  # noqa: E402
from orders.services import order_upsert  # noqa: E402

PASSWORD = "e2e-pass-123456"


def _session_for(user: User) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def _agent(user: User) -> dict:
    return {"id": user.pk, "username": user.username, "password": PASSWORD, "nickname": user.nickname, "session": _session_for(user)}


def op_seed(*, shop_name: str = "测试旗舰店", agents: list[str] = ("小美",), role: str = Role.AGENT) -> dict:
    """A shop with a web channel and its agents (each with a ready login session)."""
    tag = uuid.uuid4().hex[:8]
    shop = Shop.objects.create(organization=Organization.objects.create(name=f"商家{tag}"), name=shop_name, slug=f"e2e-{tag}")
    channel = Channel.objects.create(shop=shop, kind=Channel.Kind.WEB, name="网页聊天")
    people = []
    for n, nickname in enumerate(agents):
        user = User.objects.create_user(f"e2e-{tag}-{n}", password=PASSWORD, display_name=nickname)
        Membership.objects.create(user=user, shop=shop, role=role)
        people.append(_agent(user))
    return {"shop": {"id": shop.pk, "slug": shop.slug, "name": shop.name}, "channel_id": channel.pk, "agents": people}


def op_join(*, agent_id: int, slug: str, role: str = Role.AGENT) -> None:
    """Make an agent a member of one more shop."""
    membership_add(user=User.objects.get(pk=agent_id), shop=Shop.objects.get(slug=slug), role=role)


def op_user_without_shop() -> dict:
    user = User.objects.create_user(f"e2e-loner-{uuid.uuid4().hex[:8]}", password=PASSWORD, display_name="无店铺")
    return _agent(user)


def _channel(slug: str) -> Channel:
    return Channel.objects.get(shop__slug=slug, kind=Channel.Kind.WEB)


def op_buyer_message(*, slug: str, buyer_id: str, text: str, nickname: str = "") -> dict:
    message, _ = services.buyer_message_receive(
        channel=_channel(slug), platform_buyer_id=buyer_id, nickname=nickname, text=text
    )
    return {"conversation_id": message.conversation_id, "customer_id": message.conversation.customer_id, "seq": message.seq}


def op_buyer_history(*, slug: str, buyer_id: str, nickname: str, count: int, assignee_id: int | None = None) -> list[int]:
    """``count`` resolved conversations of one buyer ("第1次咨询" the oldest), each taken by
    ``assignee_id``; returns their ids, oldest first."""
    channel = _channel(slug)
    assignee = User.objects.get(pk=assignee_id) if assignee_id else None
    ids = []
    for n in range(1, count + 1):
        message, _ = services.buyer_message_receive(channel=channel, platform_buyer_id=buyer_id, nickname=nickname, text=f"第{n}次咨询")
        conversation = message.conversation
        if assignee is not None:
            services.conversation_assign(conversation=conversation, assignee=assignee, actor=assignee)
        services.conversation_resolve(conversation=conversation, actor=assignee)
        op_age_resolve(conversation_id=conversation.pk)
        ids.append(conversation.pk)
    return ids


def op_snooze_time_comes(*, conversation_id: int) -> list[int]:
    """The beat's sweep as it runs at the conversation's snooze time."""
    due = Conversation.objects.get(pk=conversation_id).snoozed_until
    return services.conversation_wake_due(now=due)


def _date_resolve_back(conversation_id: int, by: datetime.timedelta) -> None:
    """Date a resolved conversation's last resolve ``by`` back: ``resolved_at`` and the time
    of its status event (what the buyer's page reads), which the services keep equal."""
    earlier = timezone.now() - by
    Conversation.objects.filter(pk=conversation_id, status=Conversation.Status.RESOLVED).update(resolved_at=earlier)
    resolve = ConversationEvent.objects.filter(conversation_id=conversation_id, kind=ConversationEvent.Kind.STATUS).latest("seq")
    ConversationEvent.objects.filter(pk=resolve.pk).update(created_at=earlier)


def op_age_resolve(*, conversation_id: int) -> None:
    """Date the conversation's resolve ``CONTINUE_AFTER_RESOLVE`` back: the buyer's next
    message starts a new conversation instead of continuing this one."""
    _date_resolve_back(conversation_id, services.CONTINUE_AFTER_RESOLVE)


def op_close_rating_window(*, conversation_id: int) -> None:
    """Date the conversation's resolve back past ``RATING_WINDOW``: too late to rate it."""
    _date_resolve_back(conversation_id, services.RATING_WINDOW + datetime.timedelta(minutes=1))


def op_platform_buyer_message(*, slug: str, buyer_id: str, text: str, nickname: str = "") -> dict:
    """A buyer message from a marketplace adapter, on a platform channel with no outbound URL."""
    shop = Shop.objects.get(slug=slug)
    channel, _ = Channel.objects.get_or_create(shop=shop, kind=Channel.Kind.PLATFORM_API, defaults={"name": "淘宝千牛接口"})
    message, _ = services.buyer_message_receive(channel=channel, platform_buyer_id=buyer_id, nickname=nickname, text=text)
    return {"conversation_id": message.conversation_id, "customer_id": message.conversation.customer_id, "seq": message.seq}


def op_platform_outbound(*, slug: str, url: str) -> None:
    """Point the shop's platform channel at an adapter (the test's stub server)."""
    Channel.objects.filter(shop__slug=slug, kind=Channel.Kind.PLATFORM_API).update(outbound_url=url)


def op_delivery(*, conversation_id: int) -> list[dict]:
    """The delivery record of the conversation's agent replies."""
    replies = Message.objects.filter(conversation_id=conversation_id, sender_kind=Message.SenderKind.AGENT)
    return list(replies.order_by("seq").values("seq", "delivery_state", "delivery_error_code", "delivery_attempts"))


def op_delivery_retry(*, conversation_id: int, agent_id: int) -> None:
    """A colleague retries the conversation's failed replies (the 重试 button)."""
    actor = User.objects.get(pk=agent_id)
    for message in Message.objects.filter(conversation_id=conversation_id, delivery_state=Message.Delivery.FAILED):
        services.message_delivery_retry(message=message, actor=actor)


def op_agent_message(*, conversation_id: int, agent_id: int, text: str, private: bool = False) -> int:
    """A reply (or, with ``private``, a note) by an agent, as the workspace would send it."""
    conversation = Conversation.objects.get(pk=conversation_id)
    author = User.objects.get(pk=agent_id)
    if private:
        message, _ = services.note_add(conversation=conversation, author=author, text=text)
    else:
        message, _ = services.message_send(conversation=conversation, sender_kind=Message.SenderKind.AGENT, author=author, text=text)
    return message.seq


def op_resolve(*, conversation_id: int, agent_id: int) -> None:
    services.conversation_resolve(conversation=Conversation.objects.get(pk=conversation_id), actor=User.objects.get(pk=agent_id))


def op_assign(*, conversation_id: int, agent_id: int | None) -> None:
    conversation = Conversation.objects.get(pk=conversation_id)
    assignee = User.objects.get(pk=agent_id) if agent_id else None
    services.conversation_assign(conversation=conversation, assignee=assignee, actor=None)


def op_signed_order_event(*, slug: str, buyer_id: str, number: str, status: str, amount: str, title: str) -> dict:
    """An order update as a marketplace adapter posts it to the platform channel's webhook,
    signed: the test sends it to the server, which takes it as it would in production."""
    shop = Shop.objects.get(slug=slug)
    channel, _ = Channel.objects.get_or_create(shop=shop, kind=Channel.Kind.PLATFORM_API, defaults={"name": "淘宝千牛接口"})
    order = {
        "id": number,
        "status": status,
        "total_amount": amount,
        "items": [{"title": title, "sku": "", "quantity": 1, "price": amount}],
        "placed_at": timezone.now().isoformat(),
        "paid_at": timezone.now().isoformat() if status == Order.Status.PAID else None,
    }
    body = json.dumps({"id": f"{number}-{status}", "type": "order", "buyer": {"id": buyer_id}, "order": order})
    timestamp = str(int(time.time()))
    return {
        "path": f"/api/v1/webhooks/{channel.public_id}/",
        "body": body,
        "headers": {
            "Content-Type": "application/json",
            webhook.TIMESTAMP_HEADER: timestamp,
            webhook.SIGNATURE_HEADER: webhook.sign(channel.webhook_secret, timestamp, body.encode()),
        },
    }


def op_shop_token(*, slug: str, buyer_id: str, nickname: str = "") -> str:
    return buyer_identity.shop_token_sign(channel=_channel(slug), buyer_id=buyer_id, nickname=nickname)


def op_order(*, slug: str, buyer_id: str, number: str, amount: str, title: str, status: str = Order.Status.PAID) -> int:
    return _order(slug=slug, buyer_id=buyer_id, number=number, amount=amount, title=title, status=status, placed_at=timezone.now())


def op_order_history(*, slug: str, buyer_id: str, count: int) -> None:
    """``count`` paid orders of one buyer, TB0001 the oldest, a day apart."""
    now = timezone.now()
    for n in range(1, count + 1):
        placed_at = now - datetime.timedelta(days=count - n)
        _order(slug=slug, buyer_id=buyer_id, number=f"TB{n:04d}", amount="19.90", title="袜子", status=Order.Status.PAID, placed_at=placed_at)


def _order(*, slug: str, buyer_id: str, number: str, amount: str, title: str, status: str, placed_at) -> int:
    shop = Shop.objects.get(slug=slug)
    customer = customer_get_or_create(shop=shop, platform_buyer_id=buyer_id)
    order, _ = order_upsert(
        shop=shop,
        customer=customer,
        platform_order_id=number,
        status=status,
        total_amount=amount,
        items=[{"title": title, "sku": "", "quantity": 1, "price": amount}],
        placed_at=placed_at,
    )
    return order.pk


def op_messages(*, conversation_id: int) -> list[dict]:
    return [
        {
            "seq": m.seq,
            "sender_kind": m.sender_kind,
            "text": m.text,
            "is_private": m.is_private,
            "client_msg_id": m.client_msg_id,
            "images": m.attachments.count(),
        }
        for m in Message.objects.filter(conversation_id=conversation_id).order_by("seq")
    ]


def op_conversations(*, slug: str) -> list[dict]:
    return [
        {
            "id": c.pk,
            "buyer_id": c.customer.platform_buyer_id,
            "nickname": c.customer.nickname,
            "status": c.status,
            "assignee_id": c.assignee_id,
            "agent_last_read_seq": c.agent_last_read_seq,
            "buyer_last_read_seq": c.buyer_last_read_seq,
            "rating": c.rating,
        }
        for c in Conversation.objects.filter(shop__slug=slug).select_related("customer").order_by("id")
    ]


def op_ratings(*, conversation_id: int) -> list[dict]:
    """The data of the conversation's ``rated`` events, oldest first."""
    rated = ConversationEvent.objects.filter(conversation_id=conversation_id, kind=ConversationEvent.Kind.RATED)
    return list(rated.order_by("seq").values_list("data", flat=True))


def op_customer(*, customer_id: int) -> dict:
    c = Customer.objects.get(pk=customer_id)
    return {"notes": c.notes, "vip_level": c.vip_level, "tags": sorted(c.tags.values_list("name", flat=True))}


def op_customer_update(*, customer_id: int, **fields) -> None:
    """Another agent's edit of a profile (fields as ``customer_update`` takes them)."""
    customer_update(customer=Customer.objects.get(pk=customer_id), **fields)


def op_customer_tag_add(*, customer_id: int, name: str) -> None:
    """Another agent tags the buyer."""
    customer_tag_add(customer=Customer.objects.get(pk=customer_id), name=name)


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        close_old_connections()
        try:
            request = json.loads(line)
            result = OPS[request["op"]](**request.get("args", {}))
            answer = {"ok": True, "result": result}
        except Exception as exc:  # reported to the test, which raises it there
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"}
        OUT.write(json.dumps(answer, ensure_ascii=False, default=str) + "\n")
        OUT.flush()


if __name__ == "__main__":
    main()
