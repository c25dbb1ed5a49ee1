"""Web addresses in chat messages open as links, on the buyer's page and in the workspace."""
import pytest
from playwright.sync_api import expect

from .test_live_chat import buyer_page, buyer_send, wait_acked
from .test_workspace import row_of

pytestmark = pytest.mark.browser

LINK_ATTRIBUTES = "a => [a.textContent, a.getAttribute('href'), a.target, a.rel]"
ANCHOR = ("_blank", "noopener noreferrer nofollow")

# (text, [(piece, href or None), ...]): how static/js/linkify.js cuts a message.
CASES = [
    ("看这个 https://example.com/a?b=1&c=2#x 谢谢", [("看这个 ", None), ("https://example.com/a?b=1&c=2#x", "https://example.com/a?b=1&c=2#x"), (" 谢谢", None)]),
    ("详情见https://shop.example.com/item/42。谢谢", [("详情见", None), ("https://shop.example.com/item/42", "https://shop.example.com/item/42"), ("。谢谢", None)]),
    ("链接：www.example.com，请查收！", [("链接：", None), ("www.example.com", "https://www.example.com/"), ("，请查收！", None)]),
    ("javascript:alert(1)", [("javascript:alert(1)", None)]),
    ("data:text/html;base64,PHNjcmlwdD4=", [("data:text/html;base64,PHNjcmlwdD4=", None)]),
    ("ftp://example.com 和 https:// 和 www.", [("ftp://example.com 和 https:// 和 www.", None)]),
    ("（https://example.com/x）", [("（", None), ("https://example.com/x", "https://example.com/x"), ("）", None)]),
    ("「http://a.cn」【https://b.cn/p】“https://c.cn”", [
        ("「", None), ("http://a.cn", "http://a.cn/"), ("」【", None), ("https://b.cn/p", "https://b.cn/p"),
        ("】“", None), ("https://c.cn", "https://c.cn/"), ("”", None),
    ]),
    ("See https://en.wikipedia.org/wiki/Foo_(bar). Or (https://example.com/x)!", [
        ("See ", None), ("https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        (". Or (", None), ("https://example.com/x", "https://example.com/x"), (")!", None),
    ]),
    ("Is it https://example.com/?", [("Is it ", None), ("https://example.com/", "https://example.com/"), ("?", None)]),
    ("bob@www.example.com xhttps://example.com", [("bob@www.example.com xhttps://example.com", None)]),
    ("HTTPS://EXAMPLE.COM/Path", [("HTTPS://EXAMPLE.COM/Path", "https://example.com/Path")]),
    ('https://example.com/"onmouseover="alert(1)', [("https://example.com/", "https://example.com/"), ('"onmouseover="alert(1)', None)]),
    ("<https://example.com/a>", [("<", None), ("https://example.com/a", "https://example.com/a"), (">", None)]),
]


def test_the_tokenizer_links_http_addresses_only_and_leaves_punctuation_out(live, browser):
    seed = live.helper("seed")
    page = buyer_page(browser, seed["shop"]["slug"])
    got = page.evaluate("texts => texts.map(t => DXE.linkTokens(t).map(k => [k.text, k.href || null]))", [text for text, _ in CASES])
    for (text, expected), tokens in zip(CASES, got):
        assert [tuple(token) for token in tokens] == expected, text


def test_the_buyer_page_shows_links_in_both_directions(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    buyer = buyer_page(browser, slug)

    buyer_send(buyer, "订单在这 https://shop.example.com/order/7。javascript:alert(document.cookie)")
    wait_acked(buyer)
    mine = buyer.locator("[data-testid=message][data-sender=buyer] [data-testid=message-text]")
    expect(mine).to_have_text("订单在这 https://shop.example.com/order/7。javascript:alert(document.cookie)")
    assert mine.locator("a").evaluate_all(f"all => all.map({LINK_ATTRIBUTES})") == [
        ["https://shop.example.com/order/7", "https://shop.example.com/order/7", *ANCHOR]
    ]

    (conversation,) = live.helper("conversations", slug=slug)
    live.helper("agent_message", conversation_id=conversation["id"], agent_id=agent["id"], text="亲，物流看这里：www.kuaidi.example.com/track?no=SF1！")
    reply = buyer.locator("[data-testid=message][data-sender=agent] [data-testid=message-text]")
    expect(reply).to_have_text("亲，物流看这里：www.kuaidi.example.com/track?no=SF1！")
    assert reply.locator("a").evaluate_all(f"all => all.map({LINK_ATTRIBUTES})") == [
        ["www.kuaidi.example.com/track?no=SF1", "https://www.kuaidi.example.com/track?no=SF1", *ANCHOR]
    ]


def test_the_workspace_shows_links_in_messages_and_notes(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-link", nickname="买家", text="这个链接（https://item.example.com/9?sku=2）打不开，javascript:void(0) 也不行")
    conversation_id = sent["conversation_id"]
    live.helper("agent_message", conversation_id=conversation_id, agent_id=agent["id"], private=True, text="查过了：https://erp.example.com/o/9，")
    page = browser.agent_page(agent)
    row_of(page, conversation_id).click()

    buyer_text = page.locator("#messages [data-testid=message][data-sender=buyer] [data-testid=message-text]")
    expect(buyer_text).to_have_text("这个链接（https://item.example.com/9?sku=2）打不开，javascript:void(0) 也不行")
    assert buyer_text.locator("a").evaluate_all(f"all => all.map({LINK_ATTRIBUTES})") == [
        ["https://item.example.com/9?sku=2", "https://item.example.com/9?sku=2", *ANCHOR]
    ]
    note = page.locator("#messages [data-testid=note] [data-testid=message-text]")
    expect(note).to_have_text("查过了：https://erp.example.com/o/9，")
    assert note.locator("a").evaluate_all(f"all => all.map({LINK_ATTRIBUTES})") == [
        ["https://erp.example.com/o/9", "https://erp.example.com/o/9", *ANCHOR]
    ]

    # A reply typed here links as it shows, pending and stored alike.
    composer = page.locator("[data-testid=composer]")
    composer.fill("新链接 http://m.example.com/x。")
    composer.press("Enter")
    wait_acked(page)
    mine = page.locator("#messages [data-testid=message][data-sender=agent] [data-testid=message-text]")
    assert mine.locator("a").evaluate_all(f"all => all.map({LINK_ATTRIBUTES})") == [
        ["http://m.example.com/x", "http://m.example.com/x", *ANCHOR]
    ]
