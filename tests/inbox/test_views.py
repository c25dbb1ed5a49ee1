"""Pages of the inbox: the agent workspace, the buyer chat page, its uploads, the widget, files."""
import json
import struct
import time
import zlib
from unittest import mock

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from customers.models import Customer
from inbox import buyer_identity, events, services, visitor_cookie
from inbox.attachment_links import LINK_MAX_AGE_SECONDS, attachment_link
from inbox.buyer_identity import BuyerSession
from inbox.models import Attachment, Message

from ..factories import ChannelFactory, CustomerFactory, ShopFactory, UserFactory, png_upload


def config_of(response) -> dict:
    """The JSON config the page renders for its script."""
    html = response.content.decode()
    start = html.index('<script id="dxe-config" type="application/json">') + len('<script id="dxe-config" type="application/json">')
    return json.loads(html[start : html.index("</script>", start)])


# --- Workspace -------------------------------------------------------------------------


def test_workspace_requires_login(client, db):
    response = client.get(reverse("inbox:workspace"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_workspace_renders_for_member(client, agent, shop):
    client.force_login(agent)
    response = client.get(reverse("inbox:workspace"))
    assert response.status_code == 200
    config = config_of(response)
    assert config["user"] == {"id": agent.pk, "nickname": agent.nickname}
    assert config["shops"] == [{"id": shop.pk, "name": shop.name, "slug": shop.slug, "role": "agent"}]
    assert config["strings"]["read"]  # translated strings for the script
    assert "csrftoken" in response.cookies
    assert response["Cache-Control"].startswith("max-age=0")
    # The composer stops where the server would refuse, so a long reply is not typed in vain.
    assert f'maxlength="{services.MAX_TEXT_LENGTH}"' in response.content.decode()


def test_workspace_without_membership_is_a_friendly_403(client, db):
    client.force_login(UserFactory())
    response = client.get(reverse("inbox:workspace"))
    assert response.status_code == 403
    assert b'data-testid="no-membership"' in response.content
    assert reverse("accounts:logout").encode() in response.content


def test_workspace_is_chinese_by_default_and_english_on_request(client, agent):
    client.force_login(agent)
    chinese = client.get(reverse("inbox:workspace"))
    assert "退出登录" in chinese.content.decode()
    assert config_of(chinese)["strings"]["read"] == "已读"
    client.post(reverse("set_language"), {"language": "en", "next": "/inbox/"})
    english = client.get(reverse("inbox:workspace"))
    assert "Sign out" in english.content.decode()
    assert config_of(english)["strings"]["read"] == "Read"


def test_workspace_config_words_every_delivery_failure_code(client, agent):
    """The script maps a failed delivery's code to these words; a code without words would show
    the generic reason, so every code has them, in Chinese by default and in English."""
    client.force_login(agent)
    chinese = config_of(client.get(reverse("inbox:workspace")))
    assert set(chinese["deliveryReasons"]) == set(Message.DeliveryFailure.values)
    assert chinese["deliveryReasons"]["http_4xx"] == "平台拒收了这条消息"
    assert chinese["strings"]["deliveryFailedLine"] == "发送到平台失败：%(reason)s"
    client.post(reverse("set_language"), {"language": "en", "next": "/inbox/"})
    english = config_of(client.get(reverse("inbox:workspace")))
    assert english["deliveryReasons"]["http_4xx"] == "the platform refused the message"


def test_login_page_renders_and_signs_in(client, agent):
    page = client.get(reverse("accounts:login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content
    response = client.post(reverse("accounts:login"), {"username": agent.username, "password": "pw-123456"})
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"


def test_login_page_shows_wrong_password(client, agent):
    response = client.post(reverse("accounts:login"), {"username": agent.username, "password": "nope"})
    assert response.status_code == 200
    assert b"alert-error" in response.content


# --- Buyer chat page -------------------------------------------------------------------


def test_chat_page_sets_visitor_cookie_and_issues_session_token(client, shop, web_channel):
    response = client.get(reverse("inbox:chat", args=[shop.slug]))
    assert response.status_code == 200
    cookie = response.cookies[visitor_cookie.VISITOR_COOKIE]
    assert buyer_identity.valid_visitor_id(cookie.value)
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert int(cookie["max-age"]) == 365 * 24 * 3600
    # The same id in a partitioned cookie, which a shop's cross-site iframe gets back.
    embedded = response.cookies[visitor_cookie.EMBEDDED_VISITOR_COOKIE]
    assert embedded.value == cookie.value
    assert embedded["httponly"] and embedded["secure"] and embedded["samesite"] == "None"
    assert int(embedded["max-age"]) == 365 * 24 * 3600
    header = embedded.output(header="").strip()
    assert header.startswith(f"{visitor_cookie.EMBEDDED_VISITOR_COOKIE}={cookie.value};")
    assert header.endswith("; Partitioned")
    config = config_of(response)
    buyer = buyer_identity.session_token_read(config["token"], shop_id=shop.pk)
    # The address the page saw goes with a visitor: their first message counts against it.
    assert buyer == BuyerSession(
        shop_id=shop.pk, buyer_id=buyer_identity.visitor_buyer_id(shop_id=shop.pk, visitor_id=cookie.value), address="127.0.0.1"
    )
    assert config["ws"] == f"/ws/chat/{shop.slug}/"
    assert config["upload"] == reverse("inbox:chat_upload", args=[shop.slug])
    # Meant to be embedded by the shop's site: no X-Frame-Options DENY here.
    assert "X-Frame-Options" not in response


def test_a_visitor_is_an_unlinkable_buyer_in_each_shop(client, shop, web_channel, other_shop):
    ChannelFactory(shop=other_shop)
    in_a = buyer_identity.session_token_read(config_of(client.get(reverse("inbox:chat", args=[shop.slug])))["token"], shop_id=shop.pk)
    in_b = buyer_identity.session_token_read(
        config_of(client.get(reverse("inbox:chat", args=[other_shop.slug])))["token"], shop_id=other_shop.pk
    )
    cookie = client.cookies[visitor_cookie.VISITOR_COOKIE].value
    assert in_a.buyer_id != in_b.buyer_id
    assert cookie not in in_a.buyer_id and cookie not in in_b.buyer_id
    # Shop B's agents see B's buyer id; sent as the cookie, it is somebody else in shop A.
    impostor = Client()
    impostor.cookies[visitor_cookie.VISITOR_COOKIE] = in_b.buyer_id.removeprefix("visitor-")
    token = config_of(impostor.get(reverse("inbox:chat", args=[shop.slug])))["token"]
    assert buyer_identity.session_token_read(token, shop_id=shop.pk).buyer_id != in_a.buyer_id


def test_chat_page_returning_visitor_keeps_identity(client, shop, web_channel):
    first = client.get(reverse("inbox:chat", args=[shop.slug]))
    second = client.get(reverse("inbox:chat", args=[shop.slug]))
    assert visitor_cookie.VISITOR_COOKIE not in second.cookies
    buyer_one = buyer_identity.session_token_read(config_of(first)["token"], shop_id=shop.pk)
    buyer_two = buyer_identity.session_token_read(config_of(second)["token"], shop_id=shop.pk)
    assert buyer_one == buyer_two


def test_chat_page_in_a_shops_iframe_knows_the_visitor_by_the_partitioned_cookie(client, shop, web_channel):
    first = client.get(reverse("inbox:chat", args=[shop.slug]), {"embed": "1"})
    del client.cookies[visitor_cookie.VISITOR_COOKIE]  # a Lax cookie is not sent to a cross-site frame
    second = client.get(reverse("inbox:chat", args=[shop.slug]), {"embed": "1"})
    assert not second.cookies
    buyer_one = buyer_identity.session_token_read(config_of(first)["token"], shop_id=shop.pk)
    assert buyer_identity.session_token_read(config_of(second)["token"], shop_id=shop.pk) == buyer_one


def test_chat_page_views_make_no_profile_until_the_visitor_writes(client, shop, web_channel):
    for _ in range(3):
        client.cookies.clear()  # crawlers keep no cookie: each view is a new visitor
        assert client.get(reverse("inbox:chat", args=[shop.slug])).status_code == 200
    assert not Customer.objects.filter(shop=shop).exists()


def test_chat_page_replaces_a_malformed_visitor_cookie(client, shop, web_channel):
    client.cookies[visitor_cookie.VISITOR_COOKIE] = "../../etc"
    client.cookies[visitor_cookie.EMBEDDED_VISITOR_COOKIE] = "0" * 31
    response = client.get(reverse("inbox:chat", args=[shop.slug]))
    assert buyer_identity.valid_visitor_id(response.cookies[visitor_cookie.VISITOR_COOKIE].value)


def test_chat_page_with_shop_token_identifies_the_platform_buyer(client, shop, web_channel):
    token = buyer_identity.shop_token_sign(channel=web_channel, buyer_id="tb-42", nickname="小红")
    response = client.get(reverse("inbox:chat", args=[shop.slug]), {"token": token})
    customer = buyer_identity.session_token_customer(config_of(response)["token"], shop_id=shop.pk)
    assert (customer.platform_buyer_id, customer.nickname) == ("tb-42", "小红")
    assert visitor_cookie.VISITOR_COOKIE not in response.cookies


def _refused_tokens(channel, shop_secret) -> dict[str, str]:
    """Shop tokens the chat page must refuse, by why."""
    sign = lambda claims, **kwargs: signing.dumps(claims, key=shop_secret, salt=buyer_identity.SHOP_TOKEN_SALT, **kwargs)
    good = buyer_identity.shop_token_sign(channel=channel, buyer_id="tb-42")
    with mock.patch("time.time", return_value=time.time() - buyer_identity.SHOP_TOKEN_MAX_AGE - 60):
        expired = buyer_identity.shop_token_sign(channel=channel, buyer_id="tb-42")
    return {
        "forged": good[:-2] + ("xx" if not good.endswith("xx") else "yy"),
        "garbage": "abc",
        "expired": expired,
        "other shop": buyer_identity.shop_token_sign(channel=ChannelFactory(shop=ShopFactory()), buyer_id="tb-42"),
        "empty buyer id": sign({"b": "", "n": "x"}),
        "buyer id not text": sign({"b": 5}),
        "buyer id too long": sign({"b": "z" * 101}),
        "buyer id blank": sign({"b": "   "}),
        "nickname with NUL": sign({"b": "tb-42", "n": "小\x00红"}),
        "nickname with a lone surrogate": sign({"b": "tb-42", "n": "小\ud800红"}),
    }


def test_chat_page_refuses_a_bad_shop_token_and_never_makes_a_visitor_of_it(client, shop, web_channel):
    """A buyer whose link or sign-in ran out must hear so, not chat on as a stranger."""
    for why, token in _refused_tokens(web_channel, web_channel.webhook_secret).items():
        for query in ({"token": token}, {"token": token, "embed": "1"}):  # the widget's iframe too
            response = client.get(reverse("inbox:chat", args=[shop.slug]), query)
            assert response.status_code == 403, why
            page = response.content.decode()
            assert 'data-testid="chat-refused"' in page and 'id="dxe-config"' not in page, why
            assert not response.cookies, why
            assert "X-Frame-Options" not in response
    assert not Customer.objects.exists()


def test_the_refusal_says_what_happened_and_what_to_do(client, shop, web_channel):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("inbox:chat", args=[shop.slug]), {"token": "abc"}).content.decode()
    assert "This chat link has expired or is not valid" in page
    assert "Please go back to the shop and open the chat from there again." in page


def test_a_shop_token_is_checked_against_the_channel_secret_alone(client, shop, web_channel, settings):
    # Django tries SECRET_KEY_FALLBACKS for a given key too: an old SECRET_KEY must not vouch.
    settings.SECRET_KEY_FALLBACKS = ["an-old-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"]
    forged = signing.dumps({"b": "tb-42"}, key=settings.SECRET_KEY_FALLBACKS[0], salt=buyer_identity.SHOP_TOKEN_SALT)
    assert buyer_identity.shop_token_read(channel=web_channel, token=forged) is None


def test_chat_page_unknown_shop_or_no_web_channel_is_404(client, shop):
    assert client.get(reverse("inbox:chat", args=["no-such-shop"])).status_code == 404
    assert client.get(reverse("inbox:chat", args=[shop.slug])).status_code == 404  # no channel yet
    ChannelFactory(shop=shop, is_active=False)
    assert client.get(reverse("inbox:chat", args=[shop.slug])).status_code == 404


def test_chat_page_is_chinese_by_default(client, shop, web_channel):
    response = client.get(reverse("inbox:chat", args=[shop.slug]))
    assert "发送" in response.content.decode()


# --- Buyer uploads ---------------------------------------------------------------------


@pytest.fixture
def buyer(shop):
    return CustomerFactory(shop=shop, platform_buyer_id="visitor-abc")


@pytest.fixture
def session_token(buyer):
    return buyer_identity.session_token_issue(BuyerSession.of(buyer))


def upload(client, shop, session, **data):
    url = reverse("inbox:chat_upload", args=[shop.slug])
    headers = {"HTTP_X_DXE_SESSION": session} if session else {}
    return client.post(url, data, **headers)


def test_upload_stores_image_message(client, shop, web_channel, buyer, session_token, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, shop, session_token, image=png_upload(), client_msg_id="img-1")
    assert response.status_code == 201
    body = response.json()
    assert body["sender_kind"] == "buyer" and body["client_msg_id"] == "img-1"
    assert body["attachments"][0]["content_type"] == "image/png"
    assert (body["attachments"][0]["width"], body["attachments"][0]["height"]) == (8, 6)
    message = Message.objects.get(pk=body["id"])
    assert message.conversation.customer == buyer
    assert message.conversation.last_message_preview


def test_upload_first_from_a_visitor_makes_their_profile(client, shop, web_channel):
    visitor = BuyerSession(shop_id=shop.pk, buyer_id="visitor-0123456789abcdef0123456789abcdef")
    token = buyer_identity.session_token_issue(visitor)
    from django.core.files.uploadedfile import SimpleUploadedFile

    not_an_image = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    assert upload(client, shop, token, image=not_an_image).status_code == 400
    assert not Customer.objects.exists()  # a refused upload leaves nothing
    response = upload(client, shop, token, image=png_upload(), client_msg_id="img-1")
    assert response.status_code == 201
    message = Message.objects.get(pk=response.json()["id"])
    assert message.conversation.customer.platform_buyer_id == visitor.buyer_id


def test_upload_first_from_a_visitor_past_their_address_cap_is_429(client, shop, web_channel, settings):
    settings.CHAT_NEW_VISITORS_PER_ADDRESS_PER_HOUR = 1
    tokens = []
    for _ in range(2):
        client.cookies.clear()  # a fresh visitor for each page view
        tokens.append(config_of(client.get(reverse("inbox:chat", args=[shop.slug])))["token"])
    assert upload(client, shop, tokens[0], image=png_upload(), client_msg_id="a").status_code == 201
    refused = upload(client, shop, tokens[1], image=png_upload(), client_msg_id="b")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert Customer.objects.filter(shop=shop).count() == 1


def test_upload_retry_with_same_client_msg_id_returns_stored_message(client, shop, web_channel, session_token):
    first = upload(client, shop, session_token, image=png_upload(), client_msg_id="img-1")
    again = upload(client, shop, session_token, image=png_upload(), client_msg_id="img-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Attachment.objects.count() == 1


def test_upload_token_may_come_as_a_form_field(client, shop, web_channel, session_token):
    response = upload(client, shop, None, image=png_upload(), client_msg_id="f-1", token=session_token)
    assert response.status_code == 201


def test_upload_without_or_with_bad_token_is_403(client, shop, web_channel):
    assert upload(client, shop, None, image=png_upload()).status_code == 403
    forged = signing.dumps({"c": 1, "s": shop.pk}, salt="something-else")
    response = upload(client, shop, forged, image=png_upload())
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_upload_token_of_another_shop_is_refused(client, shop, web_channel):
    other = ShopFactory()
    ChannelFactory(shop=other)
    foreign_token = buyer_identity.session_token_issue(BuyerSession.of(CustomerFactory(shop=other)))
    assert upload(client, shop, foreign_token, image=png_upload()).status_code == 403
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "files, message_part",
    [
        ({}, "image"),
        ({"image": ("notes.txt", b"hello", "text/plain")}, "image"),
        ({"image": ("fake.png", b"\x89PNG\r\n\x1a\nnot really", "image/png")}, "image"),
    ],
)
def test_upload_validation_errors_are_400_json(client, shop, web_channel, session_token, files, message_part):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"client_msg_id": "x"}
    for field, (name, content, content_type) in files.items():
        data[field] = SimpleUploadedFile(name, content, content_type=content_type)
    response = upload(client, shop, session_token, **data)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"]
    assert not Message.objects.exists()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG that says it is ``width`` × ``height`` with no pixel data: all PIL reads before
    it judges the size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_an_image_of_too_many_pixels_says_so(client, shop, web_channel, session_token):
    from django.core.files.uploadedfile import SimpleUploadedFile

    # 20000 × 20000: past twice PIL's own limit, where it refuses to open it at all.
    bomb = SimpleUploadedFile("bomb.png", _png_claiming(20000, 20000), content_type="image/png")
    response = upload(client, shop, session_token, image=bomb, client_msg_id="b")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "图片像素过多。"  # not "not a valid image"


def test_upload_too_large_is_400(client, shop, web_channel, session_token, settings):
    settings.ATTACHMENT_MAX_BYTES = 50
    response = upload(client, shop, session_token, image=png_upload(size=(64, 64)))
    assert response.status_code == 400


def test_upload_text_with_a_nul_is_refused(client, shop, web_channel, session_token):
    response = upload(client, shop, session_token, image=png_upload(), client_msg_id="n", text="看\x00图")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Message.objects.exists()


def test_upload_oversize_body_is_refused_before_parsing(client, shop, web_channel, session_token, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.ATTACHMENT_MAX_BYTES = 10
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"x" * 100_000, content_type="image/png")
    response = upload(client, shop, session_token, image=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_upload_needs_post_and_no_csrf_token(shop, web_channel, session_token):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get(reverse("inbox:chat_upload", args=[shop.slug])).status_code == 405
    assert upload(strict, shop, session_token, image=png_upload(), client_msg_id="c").status_code == 201


def test_upload_is_rate_limited_per_buyer(client, shop, web_channel, session_token, monkeypatch):
    from django.core.cache import cache

    from inbox import views

    cache.clear()
    monkeypatch.setattr(views, "BUYER_UPLOADS_PER_MINUTE", 2)
    codes = [upload(client, shop, session_token, image=png_upload(), client_msg_id=f"r{i}").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    cache.clear()


# --- Widget ----------------------------------------------------------------------------


def test_widget_script_points_at_the_chat_page(client, shop, web_channel):
    response = client.get(reverse("inbox:chat_widget", args=[shop.slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    body = response.content.decode()
    assert f"http://testserver/chat/{shop.slug}/" in body
    assert "data-token" in body
    assert client.get(reverse("inbox:chat_widget", args=["nope"])).status_code == 404


# --- Attachments -----------------------------------------------------------------------


@pytest.fixture
def image_message(shop, web_channel, buyer):
    message, _ = services.buyer_message_receive(
        channel=web_channel, platform_buyer_id=buyer.platform_buyer_id, images=[png_upload()], client_msg_id="a1"
    )
    return message


def attachment_url(message):
    return reverse("inbox:attachment", args=[message.attachments.get().pk])


def test_attachment_for_shop_member(client, agent, image_message):
    client.force_login(agent)
    response = client.get(attachment_url(image_message))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_attachment_anonymous_goes_to_login(client, image_message):
    response = client.get(attachment_url(image_message))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_attachment_of_another_shop_is_404(client, outsider, image_message):
    client.force_login(outsider)
    assert client.get(attachment_url(image_message)).status_code == 404


def test_the_buyer_sees_images_by_signed_links_not_by_their_session_token(client, image_message, session_token):
    shown = events.buyer_message_data(events.message_data(image_message))
    url = shown["attachments"][0]["url"]
    assert "?s=" in url and session_token not in url
    response = client.get(url)
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    # A session token in the URL (a copied image address used to carry one) opens nothing.
    assert client.get(attachment_url(image_message) + f"?t={session_token}").status_code == 302


@pytest.fixture
def image_note(agent, image_message):
    """A private note with an image: note_add cannot make one, so build one to prove the rules hold."""
    note, _ = services.message_send(
        conversation=image_message.conversation,
        sender_kind=Message.SenderKind.AGENT,
        author=agent,
        images=[png_upload()],
        is_private=True,
    )
    return note


def test_the_image_of_a_private_note_opens_for_agents(client, agent, image_note):
    client.force_login(agent)
    assert client.get(attachment_url(image_note)).status_code == 200


def test_a_signed_link_opens_the_image_without_a_login(client, image_message, settings):
    settings.SITE_URL = "https://kefu.example.com"
    attachment = image_message.attachments.get()
    link = attachment_link(attachment.pk)
    assert link.startswith(f"https://kefu.example.com{reverse('inbox:attachment', args=[attachment.pk])}?s=")
    response = client.get(link.removeprefix("https://kefu.example.com"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_a_signed_link_opens_its_own_image_only_and_not_after_it_expires(client, agent, image_message, settings):
    settings.SITE_URL = "https://kefu.example.com"
    other, _ = services.message_send(
        conversation=image_message.conversation, sender_kind=Message.SenderKind.AGENT, author=agent, images=[png_upload()]
    )
    link = attachment_link(image_message.attachments.get().pk).removeprefix("https://kefu.example.com")
    token = link.split("?s=")[1]
    other_url = reverse("inbox:attachment", args=[other.attachments.get().pk])
    assert client.get(f"{other_url}?s={token}").status_code == 404
    assert client.get(link.replace("?s=", "?s=x")).status_code == 404
    with mock.patch("time.time", return_value=time.time() + LINK_MAX_AGE_SECONDS + 60):
        assert client.get(link).status_code == 404


def test_a_signed_link_never_opens_a_private_note(client, image_note, settings):
    settings.SITE_URL = "https://kefu.example.com"
    link = attachment_link(image_note.attachments.get().pk).removeprefix("https://kefu.example.com")
    assert client.get(link).status_code == 404
