"""Tenant isolation, checked on every URL the project has: nothing of one shop reaches another.

The test walks ``django.urls.get_resolver()`` recursively, so routes added later are covered
without touching this file, and fills each path parameter with an object of ``shop`` (the
victim). It then calls every route with GET, POST (JSON and multipart), PATCH, PUT and DELETE:

- as ``outsider`` (an *admin* of another shop) and as an anonymous visitor;
- as an agent and a supervisor of ``shop`` on the routes only its admins may use.

Rules, per route:

- a route whose path names an object of ``shop`` must refuse: 401, 403, 404, 405 or a
  redirect to a login page;
- a route whose path names nothing (a list, ``me/``, a page) may answer the outsider, but
  from the outsider's own shops only; anonymous visitors are refused as above;
- no body may contain a distinctive string of ``shop`` (buyer nickname, message text, private
  note, webhook secret, ...), and no request may change ``shop``'s rows;
- the routes in :data:`PUBLIC_ROUTES` are public by design (each with its reason): their status
  is free, but the two checks above still hold.

A path parameter this file does not know fails the test, naming the route: add the kwarg to
:func:`kwarg_values` with an object of ``shop``, so the new route is walked too.
"""
import io
import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern
from PIL import Image, PngImagePlugin

from accounts.models import Membership, Role
from customers.models import Address, Customer, Tag
from inbox import services
from inbox.models import Attachment, Channel, Conversation, ConversationEvent, Message
from orders.models import Order

from .factories import (
    ChannelFactory,
    ConversationFactory,
    CustomerFactory,
    OrderFactory,
    TagFactory,
    TeamFactory,
)

# Routes anyone may call, by their full pattern. The leak and no-change checks still apply.
PUBLIC_ROUTES = {
    "": "redirects to /inbox/ and shows nothing",
    "accounts/login/": "the login form",
    "accounts/logout/": "ends the caller's own session only",
    "i18n/setlang/": "sets the caller's own language",
    "admin/login/": "the admin login form",
    "admin/logout/": "ends the caller's own session only",
    "api/schema/": "the OpenAPI description: shapes, no data",
    "api/docs/": "Swagger UI over the schema",
    "api/v1/auth/token/": "exchanges the caller's own credentials for a token",
    "chat/<slug:shop_slug>/": "the buyer chat page is public by design",
    "chat/<slug:shop_slug>/widget.js": "the embeddable chat script for shop websites",
}
# Not listed on purpose, though no staff session opens them: the platform webhook
# (``api/v1/webhooks/<public_id>/``, HMAC-signed) and the buyer upload
# (``chat/<slug>/upload/``, buyer session token). The walk's probes carry neither signature
# nor token, so these routes must refuse them like any other.

# Routes only a shop's admins may use: its agents and supervisors are refused too.
ADMIN_ONLY_ROUTES = {
    "api/v1/channels/",
    "api/v1/channels/<int:channel_id>/",
}

METHODS = ("get", "post-json", "post-form", "patch", "put", "delete")
REFUSED = {401, 403, 404, 405}

MARK = "TNCY7q"  # prefix of every distinctive string of the victim shop


@dataclass
class Victim:
    shop: object
    agent: object
    supervisor: object
    admin: object
    customer: Customer
    conversation: Conversation
    channel: Channel
    platform_channel: Channel
    attachment: Attachment
    message: Message
    failed_reply: Message  # a reply to a platform buyer whose delivery failed: retryable
    order: Order
    team: object
    tag: Tag
    secrets: list[str]  # must never be shown to anyone outside the shop, on any route
    private: list[str]  # must not be shown on the shop's non-public routes either


def _marked_png() -> SimpleUploadedFile:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"{MARK}-image-bytes")
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3), "blue").save(buffer, "PNG", pnginfo=info)
    return SimpleUploadedFile("victim.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def victim(shop, agent, supervisor, admin_user, web_channel, django_capture_on_commit_callbacks) -> Victim:
    shop.name = f"{MARK}-店铺"
    shop.save()
    agent.display_name = f"{MARK}-客服"
    agent.save()
    web_channel.name = f"{MARK}-channel"
    web_channel.save()
    platform_channel = ChannelFactory(
        shop=shop, kind=Channel.Kind.PLATFORM_API, name=f"{MARK}-platform", outbound_url="https://victim.example/out"
    )
    tag = TagFactory(shop=shop, name=f"{MARK}-tag")
    customer = CustomerFactory(
        shop=shop,
        platform_buyer_id=f"{MARK}-buyer-id",
        nickname=f"{MARK}-买家昵称",
        name=f"{MARK}-姓名",
        phone="13999990000",
        notes=f"{MARK}-customer-notes",
    )
    customer.tags.add(tag)
    Address.objects.create(
        customer=customer, recipient=f"{MARK}-收件人", phone="13999990001", region="上海市", detail=f"{MARK}-地址"
    )
    conversation = ConversationFactory(shop=shop, customer=customer, channel=web_channel, assignee=agent)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_send(conversation=conversation, sender_kind="buyer", text=f"{MARK}-buyer-message")
        message, _ = services.message_send(
            conversation=conversation, sender_kind="agent", author=agent, text=f"{MARK}-reply", images=[_marked_png()]
        )
        services.note_add(conversation=conversation, author=agent, text=f"{MARK}-private-note")
    # The buyer's earlier conversation: what the conversation's 历史会话 (``others/``) shows.
    ConversationFactory(
        shop=shop, customer=customer, channel=web_channel, status="resolved", last_message_preview=f"{MARK}-earlier-chat"
    )
    # Outside the block above, so its delivery never runs: it stays failed, for the retry route.
    platform_conversation = ConversationFactory(shop=shop, customer=customer, channel=platform_channel)
    failed_reply, _ = services.message_send(
        conversation=platform_conversation, sender_kind="agent", author=agent, text=f"{MARK}-platform-reply"
    )
    services.message_delivery_update(
        message_id=failed_reply.pk, state=Message.Delivery.FAILED, error_code="http_5xx", error_detail="HTTP 503"
    )
    order = OrderFactory(shop=shop, customer=customer, platform_order_id=f"{MARK}-order")
    team = TeamFactory(shop=shop, name=f"{MARK}-team")
    secrets = [
        f"{MARK}-买家昵称",
        f"{MARK}-buyer-id",
        f"{MARK}-姓名",
        f"{MARK}-customer-notes",
        f"{MARK}-收件人",
        f"{MARK}-地址",
        f"{MARK}-buyer-message",
        f"{MARK}-reply",
        f"{MARK}-platform-reply",
        f"{MARK}-private-note",
        f"{MARK}-image-bytes",
        f"{MARK}-order",
        f"{MARK}-earlier-chat",
        f"{MARK}-tag",
        "13999990000",
        "13999990001",
        web_channel.webhook_secret,
        platform_channel.webhook_secret,
        "victim.example",
    ]
    private = [f"{MARK}-店铺", f"{MARK}-客服", f"{MARK}-channel", f"{MARK}-platform", f"{MARK}-team"]
    return Victim(
        shop=shop,
        agent=agent,
        supervisor=supervisor,
        admin=admin_user,
        customer=customer,
        conversation=conversation,
        channel=web_channel,
        platform_channel=platform_channel,
        attachment=message.attachments.get(),
        message=message,
        failed_reply=failed_reply,
        order=order,
        team=team,
        tag=tag,
        secrets=secrets,
        private=private,
    )


@pytest.fixture
def outsider_with_data(outsider, other_shop):
    """The outsider's own shop has data too, so its lists are not trivially empty."""
    ConversationFactory(shop=other_shop, customer=CustomerFactory(shop=other_shop, nickname="外店买家"))
    return outsider


def kwarg_values(v: Victim, *, admin_site: bool) -> dict[str, object]:
    """Path parameters, by kwarg name, filled with objects of the victim shop."""
    values = {
        "conversation_id": v.conversation.pk,
        "customer_id": v.customer.pk,
        "channel_id": v.channel.pk,
        "public_id": v.platform_channel.public_id,
        "channel_public_id": v.platform_channel.public_id,
        "attachment_id": v.attachment.pk,
        "message_id": v.failed_reply.pk,  # the retry route would change it
        "order_id": v.order.pk,
        "shop_id": v.shop.pk,
        "shop_slug": v.shop.slug,
        "slug": v.shop.slug,
        "team_id": v.team.pk,
        "tag_id": v.tag.pk,
        "user_id": v.agent.pk,
        "member_id": v.agent.pk,
        "seq": v.message.seq,
        "unknown_path": f"conversations/{v.conversation.pk}/no-such-action/",
    }
    if admin_site:
        # Django admin: staff only. Point every admin URL at a row of the victim shop anyway.
        values.update(
            {
                "object_id": v.conversation.pk,
                "id": v.agent.pk,
                "content_type_id": ContentType.objects.get_for_model(Conversation).pk,
                "app_label": "inbox",
                "url": "inbox/no-such-page/",
            }
        )
    return values


# --- Walking the URL configuration ----------------------------------------------------------
@dataclass
class Route:
    pattern: str  # the full pattern, as PUBLIC_ROUTES names it
    parts: list  # the pattern objects from the root down
    callback: object


def iter_routes(patterns=None, parts=()) -> list[Route]:
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        chain = [*parts, entry.pattern]
        if isinstance(entry, URLResolver):
            routes += iter_routes(entry.url_patterns, chain)
        elif isinstance(entry, URLPattern):
            routes.append(Route("".join(str(p) for p in chain), chain, entry.callback))
    return routes


ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _fill_regex(regex: str, values: dict, route: Route) -> str:
    regex = regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    out, i = [], 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            name_end = regex.index(">", i)
            name = regex[i + 4 : name_end]
            depth, j = 1, name_end + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(regex[j], 0) if regex[j - 1] != "\\" else 0
                j += 1
            out.append(str(_value(values, name, route)))
            i = j
        elif regex[i] == "\\" and i + 1 < len(regex):
            out.append(regex[i + 1])
            i += 2
        else:
            if regex[i] in "()[]{}*+?|.^$":
                pytest.fail(f"Cannot build a URL for the regex route {route.pattern!r}; teach tests/test_tenancy.py")
            out.append(regex[i])
            i += 1
    return "".join(out)


def _value(values: dict, name: str, route: Route):
    if name not in values:
        pytest.fail(
            f"Route {route.pattern!r} has the path parameter {name!r}, which tests/test_tenancy.py does not know. "
            f"Add it to kwarg_values() with an object of the victim shop."
        )
    return values[name]


def build_path(route: Route, v: Victim) -> str:
    admin_site = route.pattern.startswith("admin/")
    values = kwarg_values(v, admin_site=admin_site)
    pieces = []
    for part in route.parts:
        if isinstance(part, RoutePattern):
            pieces.append(ROUTE_PARAM.sub(lambda m: str(_value(values, m["name"], route)), str(part)))
        elif isinstance(part, RegexPattern):
            pieces.append(_fill_regex(str(part), values, route))
        elif isinstance(part, LocalePrefixPattern):
            pieces.append(part.language_prefix)
        else:
            pytest.fail(f"Unknown pattern type {type(part).__name__} in {route.pattern!r}")
    path = "/" + "".join(pieces)
    try:
        match = resolve(path)
    except Resolver404:
        pytest.fail(f"Built {path!r} for {route.pattern!r}, but it does not resolve")
    assert match.func == route.callback or getattr(match.func, "view_class", None) == getattr(
        route.callback, "view_class", object()
    ), f"{path!r} resolves to another view than {route.pattern!r}"
    return path


def has_params(route: Route) -> bool:
    return any(ROUTE_PARAM.search(str(p)) if isinstance(p, RoutePattern) else "(?P<" in str(p) for p in route.parts)


# --- Requests and checks -------------------------------------------------------------------
def _login_urls() -> tuple[str, ...]:
    return (resolve_url(settings.LOGIN_URL), "/admin/login/")


def _body_fields(v: Victim, probe_user) -> dict:
    return {
        "text": "tenancy probe",
        "client_msg_id": "tenancy-probe",
        "assignee_id": probe_user.pk if probe_user else None,
        "seq": 99,
        "name": "tenancy probe",
        "phone": "13000000000",
        "notes": "tenancy probe",
        "vip_level": 3,
        "tags": ["probe"],
        "shop": v.shop.pk,
        "kind": "web",
        "outbound_url": "https://attacker.example/",
        "is_active": False,
        "rotate_secret": True,
        "status": "resolved",
    }


def send(client: Client, method: str, path: str, v: Victim, probe_user):
    fields = _body_fields(v, probe_user)
    if method == "get":
        return client.get(path)
    if method == "delete":
        return client.delete(path)
    if method == "post-form":
        form = {key: value for key, value in fields.items() if value is not None and not isinstance(value, list)}
        form.update({"images": _marked_probe_image(), "image": _marked_probe_image(), "file": _marked_probe_image()})
        return client.post(path, form)
    verb = "post" if method == "post-json" else method
    return getattr(client, verb)(path, fields, content_type="application/json")


def _marked_probe_image() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "green").save(buffer, "PNG")
    return SimpleUploadedFile("probe.png", buffer.getvalue(), content_type="image/png")


def body_of(response) -> str:
    # Not response.close(): the test client closes responses itself with the DB-closing
    # request_finished receiver detached; closing again would drop the test's connection.
    return response.getvalue().decode("utf-8", errors="replace")


def is_login_redirect(response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and response["Location"].split("?")[0].endswith(
        _login_urls()
    )


def state(v: Victim) -> dict:
    """Everything of the victim shop a stray write could change."""
    shop_id = v.shop.pk
    return {
        "conversations": list(Conversation.objects.filter(shop_id=shop_id).order_by("pk").values()),
        "messages": list(Message.objects.filter(shop_id=shop_id).order_by("pk").values()),
        "events": list(ConversationEvent.objects.filter(shop_id=shop_id).order_by("pk").values()),
        "attachments": list(Attachment.objects.filter(shop_id=shop_id).order_by("pk").values_list("pk", "file")),
        "customers": list(Customer.objects.filter(shop_id=shop_id).order_by("pk").values()),
        "customer_tags": sorted(v.customer.tags.values_list("name", flat=True)),
        "addresses": list(Address.objects.filter(customer__shop_id=shop_id).values()),
        "tags": sorted(Tag.objects.filter(shop_id=shop_id).values_list("name", flat=True)),
        "channels": list(Channel.objects.filter(shop_id=shop_id).order_by("pk").values()),
        "orders": list(Order.objects.filter(shop_id=shop_id).order_by("pk").values()),
        "memberships": list(Membership.objects.filter(shop_id=shop_id).order_by("pk").values("user_id", "role")),
        "shop": model_to_dict(v.shop),
    }


def existing_rows(snapshot: dict) -> dict:
    """The part of a snapshot that public routes (which may create a visitor's rows) must not change either."""
    return {
        "conversation": snapshot["conversations"][0],
        "victim_messages": [m for m in snapshot["messages"] if m["conversation_id"] == snapshot["conversations"][0]["id"]],
        "customers": [c for c in snapshot["customers"] if c["platform_buyer_id"].startswith(MARK)],
        "channels": snapshot["channels"],
        "orders": snapshot["orders"],
        "memberships": snapshot["memberships"],
        "shop": snapshot["shop"],
    }


def _signed_in(client: Client, user) -> Client:
    """``client``, logged in as ``user`` again if a route (logout, login) ended its session."""
    if user is not None:
        cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
        if cookie is None or not cookie.value:
            client.force_login(user)
    return client


def walk(v: Victim, user, *, strict_for, forbidden_strings, check_state: bool, routes=None, statuses=None) -> list[str]:
    """Call every route with every method as ``user``; return the list of violations.

    ``statuses``, if given, collects each answer's status by ``(route pattern, method)``.

    The victim shop's rows are compared after each route's methods (comparing after every
    single request would triple the run time; a change still names its route).
    """
    problems = []
    if routes is None:
        routes = iter_routes()
        assert len(routes) > 20, "the URL walk found suspiciously few routes"
    before = state(v) if check_state else None
    client = Client()
    for route in routes:
        path = build_path(route, v)
        public = route.pattern in PUBLIC_ROUTES
        for method in METHODS:
            response = send(_signed_in(client, user), method, path, v, user)
            where = f"{method.upper()} {path} ({route.pattern}) -> {response.status_code}"
            if statuses is not None:
                statuses[route.pattern, method] = response.status_code
            if not public and strict_for(route) and not (response.status_code in REFUSED or is_login_redirect(response)):
                problems.append(f"{where}: not refused")
            text = body_of(response)
            strings = forbidden_strings if not public else [s for s in forbidden_strings if s in v.secrets]
            leaked = [s for s in strings if s in text]
            if leaked:
                problems.append(f"{where}: shows {leaked}")
        if check_state:
            after = state(v)
            changed = existing_rows(before) != existing_rows(after) if public else before != after
            if changed:
                problems.append(f"{route.pattern}: one of {METHODS} changed the victim shop's rows")
            before = after
    return problems


def test_outsider_reaches_nothing_of_another_shop(victim, outsider_with_data):
    statuses = {}
    problems = walk(
        victim,
        outsider_with_data,
        strict_for=has_params,
        forbidden_strings=victim.secrets + victim.private,
        check_state=True,
        statuses=statuses,
    )
    assert not problems, "\n".join(problems)
    # The walk ran signed in: the outsider's own lists answered.
    assert statuses["api/v1/conversations/", "get"] == 200
    assert statuses["api/v1/channels/", "get"] == 200
    assert statuses["api/v1/conversations/<int:conversation_id>/others/", "get"] == 404


def test_anonymous_visitor_reaches_nothing(victim):
    statuses = {}
    problems = walk(
        victim,
        None,
        strict_for=lambda route: True,
        forbidden_strings=victim.secrets + victim.private,
        check_state=True,
        statuses=statuses,
    )
    assert not problems, "\n".join(problems)
    assert statuses["api/v1/conversations/", "get"] == 403


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_members_below_admin_are_refused_admin_only_routes(victim, role):
    member = victim.agent if role == Role.AGENT else victim.supervisor
    channel_state = list(Channel.objects.filter(shop=victim.shop).order_by("pk").values())
    statuses = {}
    problems = walk(
        victim,
        member,
        strict_for=lambda route: route.pattern in ADMIN_ONLY_ROUTES,
        # Webhook secrets and outbound URLs are for admins only, wherever a member looks.
        forbidden_strings=[victim.channel.webhook_secret, victim.platform_channel.webhook_secret, "victim.example"],
        check_state=False,
        statuses=statuses,
    )
    assert not problems, "\n".join(problems)
    assert statuses["api/v1/channels/", "get"] == 403
    assert statuses["api/v1/conversations/<int:conversation_id>/", "get"] == 200  # a member reads its shop
    assert statuses["api/v1/conversations/<int:conversation_id>/others/", "get"] == 200
    assert list(Channel.objects.filter(shop=victim.shop).order_by("pk").values()) == channel_state


def test_admin_only_routes_exist_and_admins_reach_them(victim):
    routes = {route.pattern for route in iter_routes()}
    assert ADMIN_ONLY_ROUTES <= routes, "an admin-only route was renamed; update ADMIN_ONLY_ROUTES"
    client = Client()
    client.force_login(victim.admin)
    response = client.get(f"/api/v1/channels/{victim.channel.pk}/")
    assert response.status_code == 200
    assert victim.channel.webhook_secret in response.content.decode()


def test_public_routes_are_still_routes():
    """A stale allow-list entry would silently widen what counts as public."""
    routes = {route.pattern for route in iter_routes()}
    stale = {pattern for pattern in PUBLIC_ROUTES if pattern not in routes}
    # Pages being built by other engineers may not exist yet; only the core ones must.
    assert {"accounts/login/", "api/schema/", "api/docs/", "api/v1/auth/token/"} <= routes
    assert stale <= {
        "chat/<slug:shop_slug>/",
        "chat/<slug:shop_slug>/widget.js",
        "admin/login/",
        "admin/logout/",
    }, f"allow-list entries that match no route: {stale}"


def test_the_walk_catches_a_leaky_route_and_unknown_parameters(victim, outsider, settings):
    """The walk itself works: a deliberately leaky route fails it, an unknown kwarg stops it."""
    import types

    from django.http import HttpResponse
    from django.urls import path

    def leaky(request, conversation_id):
        return HttpResponse(Conversation.objects.get(pk=conversation_id).customer.nickname)

    urlconf = types.ModuleType("leaky_urls")
    urlconf.urlpatterns = [path("leak/<int:conversation_id>/", leaky)]
    settings.ROOT_URLCONF = urlconf
    routes = iter_routes()
    assert build_path(routes[0], victim) == f"/leak/{victim.conversation.pk}/"
    problems = walk(
        victim, outsider, strict_for=has_params, forbidden_strings=victim.secrets, check_state=False, routes=routes
    )
    assert any("not refused" in problem for problem in problems)
    assert any(victim.customer.nickname in problem for problem in problems)

    urlconf.urlpatterns = [path("mystery/<int:widget_id>/", leaky)]
    settings.ROOT_URLCONF = types.ModuleType("other_urls")
    settings.ROOT_URLCONF = urlconf
    with pytest.raises(pytest.fail.Exception, match="widget_id"):
        build_path(iter_routes()[0], victim)
