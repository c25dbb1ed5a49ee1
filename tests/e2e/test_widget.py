"""The embeddable widget: a shop's own site gets a button that opens the chat in an iframe."""
import http.server
import threading
import time
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from .conftest import shot

pytestmark = pytest.mark.browser


@contextmanager
def shop_website(html: str):
    """The shop's own site, served on loopback under the name "localhost": another site than
    the app's 127.0.0.1, so the chat runs in a cross-site iframe as it does in production.
    (A site served from a public address could not load from loopback at all: Chromium's
    private-network rules; production serves both publicly.)"""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_widget_on_a_shop_site_opens_the_chat_with_the_shop_identity(live, browser):
    seed = live.helper("seed", shop_name="小二旗舰店", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    token = live.helper("shop_token", slug=slug, buyer_id="tb_aichiyu_mao", nickname="爱吃鱼的猫")
    workspace = browser.agent_page(agent)

    shop_site = browser.page()
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>小二旗舰店官网</title></head>
    <body style="font-family:sans-serif;margin:40px"><h1>小二旗舰店</h1><p>新款加绒卫衣上市</p>
    <script src="{live.url(f'/chat/{slug}/widget.js')}" data-token="{token}" async></script></body></html>"""
    with shop_website(html) as url:
        shop_site.goto(url)
        check_widget(live, workspace, shop_site, slug)


def check_widget(live, workspace, shop_site, slug):
    launcher = shop_site.locator("[data-dxe=launcher]")
    expect(launcher).to_be_visible()
    launcher.click()
    frame = shop_site.frame_locator("[data-dxe=panel] iframe")
    expect(frame.locator("[data-testid=connection]")).to_have_text("已连接")
    frame.locator("[data-testid=composer]").fill("这款卫衣有加绒的吗？")
    frame.locator("[data-testid=composer]").press("Enter")

    row = workspace.locator("[data-testid=conversation]", has_text="这款卫衣有加绒的吗？")
    expect(row).to_contain_text("爱吃鱼的猫")
    row.click()
    workspace.locator("[data-testid=composer]").fill("有的亲，加绒款在详情页第二个颜色")
    workspace.locator("[data-testid=composer]").press("Enter")
    expect(frame.locator("[data-sender=agent] [data-testid=message-text]")).to_have_text(["有的亲，加绒款在详情页第二个颜色"])
    shot(shop_site, "widget-on-shop-site")

    shop_site.locator("[data-dxe=panel] button").click()
    expect(shop_site.locator("[data-dxe=panel]")).to_be_hidden()
    (conversation,) = live.helper("conversations", slug=slug)
    assert (conversation["buyer_id"], conversation["nickname"]) == ("tb_aichiyu_mao", "爱吃鱼的猫")


def test_widget_visitor_without_shop_identity_is_known_again_on_the_next_visit(live, browser):
    """No data-token: the chat runs in a cross-site iframe, which gets no Lax cookie and, in
    a browser context blocking third-party cookies, no ordinary one; the partitioned cookie
    brings the visitor back."""
    seed = live.helper("seed", shop_name="小二旗舰店", agents=["小美"])
    slug = seed["shop"]["slug"]
    shop_site = browser.page()
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>小二旗舰店官网</title></head>
    <body><h1>小二旗舰店</h1><script src="{live.url(f'/chat/{slug}/widget.js')}" async></script></body></html>"""
    with shop_website(html) as url:
        shop_site.goto(url)
        frame = open_chat(shop_site)
        frame.locator("[data-testid=composer]").fill("请问今天能发货吗？")
        frame.locator("[data-testid=composer]").press("Enter")
        expect(frame.locator("[data-sender=buyer] [data-testid=message-text]")).to_have_text(["请问今天能发货吗？"])

        shop_site.reload()
        frame = open_chat(shop_site)
        expect(frame.locator("[data-sender=buyer] [data-testid=message-text]")).to_have_text(["请问今天能发货吗？"])
        frame.locator("[data-testid=composer]").fill("我又来了")
        frame.locator("[data-testid=composer]").press("Enter")
        expect(frame.locator("[data-sender=buyer] [data-testid=message-text]")).to_have_text(["请问今天能发货吗？", "我又来了"])

    (conversation,) = live.helper("conversations", slug=slug)
    assert conversation["buyer_id"].startswith("visitor-")
    assert [m["text"] for m in live.helper("messages", conversation_id=conversation["id"])] == ["请问今天能发货吗？", "我又来了"]


def wait_until(condition, timeout: float = 3) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def open_chat(shop_site):
    shop_site.locator("[data-dxe=launcher]").click()
    frame = shop_site.frame_locator("[data-dxe=panel] iframe")
    expect(frame.locator("[data-testid=connection]")).to_have_text("已连接")
    return frame


def test_replies_while_the_panel_is_closed_are_counted_on_the_button_not_read(live, browser):
    seed = live.helper("seed", shop_name="小二旗舰店", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    token = live.helper("shop_token", slug=slug, buyer_id="tb_xiaoyu", nickname="小鱼")
    shop_site = browser.page()
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>小二旗舰店官网</title></head>
    <body><h1>小二旗舰店</h1><script src="{live.url(f'/chat/{slug}/widget.js')}" data-token="{token}" async></script></body></html>"""
    launcher = shop_site.locator("[data-dxe=launcher]")
    badge = launcher.locator("[data-dxe=unread]")
    with shop_website(html) as url:
        shop_site.goto(url)
        frame = open_chat(shop_site)
        frame.locator("[data-testid=composer]").fill("羽绒服什么时候补货？")
        frame.locator("[data-testid=composer]").press("Enter")
        expect(frame.locator("[data-testid=pending]")).to_have_count(0)
        shop_site.locator("[data-dxe=panel] button").click()  # the buyer closes the panel and browses on
        (conversation,) = live.helper("conversations", slug=slug)

        # A reply while the panel is closed: counted on the button, and not read.
        seq = live.helper("agent_message", conversation_id=conversation["id"], agent_id=agent["id"], text="下周三补货哦")
        expect(badge).to_have_text("1")
        expect(launcher).to_have_attribute("aria-label", "联系客服 (1)")
        last = live.helper("agent_message", conversation_id=conversation["id"], agent_id=agent["id"], text="到货第一时间通知您")
        expect(badge).to_have_text("2")
        shot(shop_site, "widget-unread-badge")
        (conversation,) = live.helper("conversations", slug=slug)
        assert conversation["buyer_last_read_seq"] < seq

        # Opening the panel shows them and reads them.
        launcher.click()
        expect(badge).to_be_hidden()
        expect(frame.locator("[data-sender=agent] [data-testid=message-text]")).to_have_text(["下周三补货哦", "到货第一时间通知您"])
        wait_until(lambda: live.helper("conversations", slug=slug)[0]["buyer_last_read_seq"] == last)

        # On the site's next page the chat loads hidden, so the next reply is counted there too.
        shop_site.reload()
        expect(shop_site.locator("[data-dxe=panel] iframe")).to_have_count(1)
        expect(shop_site.locator("[data-dxe=panel]")).to_be_hidden()
        expect(badge).to_be_hidden()
        live.helper("agent_message", conversation_id=conversation["id"], agent_id=agent["id"], text="已经到货啦")
        expect(badge).to_have_text("1")


def shop_page_html(live, slug: str, token: str = "") -> str:
    data_token = f' data-token="{token}"' if token else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>小二旗舰店官网</title></head><body><h1>小二旗舰店</h1>
    <script src="{live.url(f'/chat/{slug}/widget.js')}"{data_token} async></script></body></html>"""


def test_on_a_phone_the_open_chat_covers_the_page_and_closes_from_its_own_button(live, browser):
    """Full screen, the launcher would sit over the chat's Send button: a tap there must send."""
    seed = live.helper("seed", shop_name="小二旗舰店", agents=["小美"])
    slug = seed["shop"]["slug"]
    shop_site = browser.page(mobile=True)
    launcher = shop_site.locator("[data-dxe=launcher]")
    panel = shop_site.locator("[data-dxe=panel]")
    with shop_website(shop_page_html(live, slug)) as url:
        shop_site.goto(url)
        launcher.tap()
        frame = shop_site.frame_locator("[data-dxe=panel] iframe")
        expect(frame.locator("[data-testid=connection]")).to_have_text("已连接")
        expect(launcher).to_be_hidden()

        frame.locator("[data-testid=composer]").fill("在手机上能发出去吗？")
        box = frame.locator("[data-testid=send]").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        on_top = "([x, y]) => document.elementFromPoint(x, y) === document.querySelector('[data-dxe=panel] iframe')"
        assert shop_site.evaluate(on_top, [x, y])
        shop_site.touchscreen.tap(x, y)
        expect(frame.locator("[data-sender=buyer] [data-testid=message-text]")).to_have_text(["在手机上能发出去吗？"])
        expect(frame.locator("[data-testid=pending]")).to_have_count(0)
        expect(panel).to_be_visible()
        shot(shop_site, "widget-phone-open")

        shop_site.get_by_role("button", name="关闭聊天").tap()
        expect(panel).to_be_hidden()
        expect(launcher).to_be_visible()
        expect(launcher).to_be_focused()
    (conversation,) = live.helper("conversations", slug=slug)
    assert [m["text"] for m in live.helper("messages", conversation_id=conversation["id"])] == ["在手机上能发出去吗？"]


def test_the_widget_tells_the_chat_about_its_panel_only_once_the_chat_has_loaded(live, browser):
    """Posting to the iframe while it is still about:blank makes the browser log an origin
    mismatch on the shop's page at every load."""
    seed = live.helper("seed", shop_name="小二旗舰店", agents=["小美"])
    slug = seed["shop"]["slug"]
    shop_site = browser.page()
    console = []
    shop_site.on("console", lambda message: console.append(message.text))
    with shop_website(shop_page_html(live, slug)) as url:
        shop_site.goto(url)
        open_chat(shop_site)
        shop_site.locator("[data-dxe=panel] button").click()
        shop_site.reload()  # the chat loads hidden on the next page, then opens
        expect(shop_site.locator("[data-dxe=panel] iframe")).to_have_count(1)
        frame = open_chat(shop_site)
        expect(frame.locator("[data-testid=composer]")).to_be_visible()
    assert not [text for text in console if "postMessage" in text], console
