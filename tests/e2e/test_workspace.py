"""The agent workspace beyond the live chat: drafts, shortcuts, the buyer panel, paging, language."""
import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from ..fake_platform import FakePlatform
from .conftest import png_file, shot

pytestmark = pytest.mark.browser


def row_of(page, conversation_id: int):
    return page.locator(f'[data-testid=conversation][data-id="{conversation_id}"]')


def test_drafts_survive_switching_conversations_and_reload(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    first = live.helper("buyer_message", slug=slug, buyer_id="tb-a", nickname="买家甲", text="甲的问题")
    second = live.helper("buyer_message", slug=slug, buyer_id="tb-b", nickname="买家乙", text="乙的问题")
    page = browser.agent_page(agent)
    composer = page.locator("[data-testid=composer]")

    row_of(page, first["conversation_id"]).click()
    composer.fill("给甲的草稿，还没写完")
    row_of(page, second["conversation_id"]).click()
    expect(composer).to_have_value("")
    composer.fill("给乙的草稿")
    page.click("[data-testid=note-mode]")  # the mode is kept per conversation too
    row_of(page, first["conversation_id"]).click()
    expect(composer).to_have_value("给甲的草稿，还没写完")
    expect(page.locator("#composer")).to_have_attribute("data-mode", "reply")
    row_of(page, second["conversation_id"]).click()
    expect(composer).to_have_value("给乙的草稿")
    expect(page.locator("#composer")).to_have_attribute("data-mode", "note")

    # A reload keeps the open conversation and its draft (localStorage).
    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    expect(page.locator("[data-testid=thread-name]")).to_have_text("买家乙")
    expect(composer).to_have_value("给乙的草稿")
    row_of(page, first["conversation_id"]).click()
    expect(composer).to_have_value("给甲的草稿，还没写完")

    # Sending clears the draft for good.
    composer.press("Enter")
    expect(page.locator("#messages [data-sender=agent] [data-testid=message-text]")).to_have_text(["给甲的草稿，还没写完"])
    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    expect(composer).to_have_value("")


def test_a_note_draft_comes_back_as_a_note_after_a_reload(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-note", nickname="老买家", text="我要退款")
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    page.click("#messages")
    page.keyboard.press("n")
    page.keyboard.type("内部：先别退款")

    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    composer = page.locator("[data-testid=composer]")
    expect(page.locator("[data-testid=thread-name]")).to_have_text("老买家")
    expect(composer).to_have_value("内部：先别退款")
    expect(page.locator("#composer")).to_have_attribute("data-mode", "note")
    composer.press("Enter")  # adds the note: the buyer never sees it
    expect(page.locator("#messages [data-testid=note]")).to_have_count(1)
    expect(page.locator("#messages [data-testid=pending]")).to_have_count(0)
    assert [m["is_private"] for m in live.helper("messages", conversation_id=sent["conversation_id"])] == [False, True]


def test_switching_language_keeps_the_open_conversation_and_its_draft(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    live.helper("buyer_message", slug=slug, buyer_id="tb-1", nickname="Lily", text="Hello?")
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-2", nickname="Tom", text="Refund?")
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    page.click("[data-testid=note-mode]")
    page.locator("[data-testid=composer]").fill("Check his order first")

    page.select_option("#lang-ws", "en")
    page.wait_for_selector('#conn[data-state="open"]')
    expect(page.locator("[data-testid=logout]")).to_have_text("Sign out")
    expect(page).to_have_url(live.url(f"/inbox/?c={sent['conversation_id']}"))
    expect(page.locator("[data-testid=thread-name]")).to_have_text("Tom")
    expect(page.locator("[data-testid=composer]")).to_have_value("Check his order first")
    expect(page.locator("#composer")).to_have_attribute("data-mode", "note")
    expect(page.locator("[data-testid=send]")).to_have_text("Add note")


def test_keyboard_shortcuts(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    ids = [live.helper("buyer_message", slug=slug, buyer_id=f"tb-{n}", nickname=f"买家{n}", text=f"问题{n}")["conversation_id"] for n in range(3)]
    page = browser.agent_page(agent)
    expect(page.locator("[data-testid=conversation]")).to_have_count(3)
    newest_first = list(reversed(ids))
    active = page.locator("[data-testid=conversation].is-active")

    page.keyboard.press("j")
    expect(active).to_have_attribute("data-id", str(newest_first[0]))
    page.keyboard.press("j")
    expect(active).to_have_attribute("data-id", str(newest_first[1]))
    page.keyboard.press("k")
    expect(active).to_have_attribute("data-id", str(newest_first[0]))

    # r focuses the composer; there j is just a letter, Alt+↓ still moves; Esc leaves it.
    page.keyboard.press("r")
    composer = page.locator("[data-testid=composer]")
    expect(composer).to_be_focused()
    page.keyboard.type("j")
    expect(composer).to_have_value("j")
    page.keyboard.press("Alt+ArrowDown")
    expect(active).to_have_attribute("data-id", str(newest_first[1]))
    page.keyboard.press("Alt+ArrowUp")
    expect(active).to_have_attribute("data-id", str(newest_first[0]))
    expect(composer).to_have_value("j")  # its draft came back
    composer.focus()
    page.keyboard.press("Escape")
    expect(composer).not_to_be_focused()

    # Shift+Enter is a new line, not a send.
    composer.fill("")
    composer.press_sequentially("第一行")
    composer.press("Shift+Enter")
    composer.press_sequentially("第二行")
    expect(composer).to_have_value("第一行\n第二行")
    page.keyboard.press("Escape")

    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    shot(page, "workspace-shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()


def test_buyer_panel_edits_profile_and_shows_orders(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-vip", nickname="爱吃鱼的猫", text="我的快递到哪了？")
    live.helper("order", slug=slug, buyer_id="tb-vip", number="TB20261123001", amount="259.00", title="加绒连帽卫衣 灰色 M")
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    expect(page.locator("[data-testid=customer-name]")).to_have_text("爱吃鱼的猫")
    orders = page.locator("[data-testid=customer-orders]")
    expect(orders).to_contain_text("TB20261123001")
    expect(orders).to_contain_text("¥259.00")
    expect(orders).to_contain_text("加绒连帽卫衣")

    page.fill("#tag-input", "老客户")
    page.press("#tag-input", "Enter")
    page.fill("#tag-input", "爱砍价")
    page.press("#tag-input", "Enter")
    tags = page.locator("[data-testid=customer-tags] .tag")
    expect(tags).to_have_count(2)
    notes = page.locator("[data-testid=customer-notes]")
    notes.click()
    notes.fill("偏爱宽松版型，尺码选大一号")
    notes.press("Control+Enter")  # saves (as leaving the field does)
    expect(page.locator("#notes-state")).to_have_text("已保存")
    page.select_option("[data-testid=customer-vip]", "3")
    expect(row_of(page, sent["conversation_id"])).to_contain_text("VIP3")
    shot(page, "workspace-buyer-panel")

    tags.filter(has_text="爱砍价").locator("button").click()
    expect(tags).to_have_count(1)
    assert live.helper("customer", customer_id=sent["customer_id"]) == {
        "notes": "偏爱宽松版型，尺码选大一号",
        "vip_level": 3,
        "tags": ["老客户"],
    }
    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    expect(notes).to_have_value("偏爱宽松版型，尺码选大一号")


def test_a_profile_edit_shows_live_on_another_agents_screen(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug, editor, colleague = seed["shop"]["slug"], seed["agents"][0], seed["agents"][1]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-cat", nickname="爱吃鱼的猫", text="在吗")
    pages = [browser.agent_page(editor), browser.agent_page(colleague)]
    for page in pages:
        row_of(page, sent["conversation_id"]).click()
        expect(page.locator("[data-testid=customer-name]")).to_have_text("爱吃鱼的猫")
    editing, watching = pages

    editing.fill("#tag-input", "老客户")
    editing.press("#tag-input", "Enter")
    editing.select_option("[data-testid=customer-vip]", "5")
    notes = editing.locator("[data-testid=customer-notes]")
    notes.fill("只发顺丰")
    notes.press("Control+Enter")

    # The colleague's panel and list row follow without a reload.
    expect(watching.locator("[data-testid=customer-tags] .tag")).to_have_text(["老客户×"])
    expect(watching.locator("[data-testid=customer-vip]")).to_have_value("5")
    expect(watching.locator("[data-testid=customer-notes]")).to_have_value("只发顺丰")
    expect(row_of(watching, sent["conversation_id"])).to_contain_text("VIP5")


def customer_notes_become(page, live, customer_id: int, expected: str) -> str:
    """The buyer's notes as the server holds them, once they are ``expected`` (or after 5 s).
    Waits through ``page`` so that its routes keep being handled meanwhile."""
    deadline = time.monotonic() + 5
    while (notes := live.helper("customer", customer_id=customer_id)["notes"]) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    return notes


def two_buyers_with_notes(live, slug: str) -> tuple[dict, dict]:
    """Two buyers with notes; the second wrote last, so its row is first and Alt+↓ goes to the other."""
    buyers = []
    for buyer_id, nickname in (("tb-first", "第一位"), ("tb-second", "第二位")):
        sent = live.helper("buyer_message", slug=slug, buyer_id=buyer_id, nickname=nickname, text="在吗")
        live.helper("customer_update", customer_id=sent["customer_id"], notes=f"{nickname}的备注")
        buyers.append(sent)
    return buyers[0], buyers[1]


def test_notes_typed_for_a_buyer_go_to_that_buyer_when_another_is_opened_by_key(live, browser):
    seed = live.helper("seed", agents=["小美"])
    first, second = two_buyers_with_notes(live, seed["shop"]["slug"])
    page = browser.agent_page(seed["agents"][0])
    row_of(page, second["conversation_id"]).click()
    notes = page.locator("[data-testid=customer-notes]")
    expect(notes).to_have_value("第二位的备注")
    notes.click()
    page.keyboard.press("End")
    page.keyboard.type("，只发顺丰")
    page.keyboard.press("Alt+ArrowDown")  # still in the notes box

    expect(page.locator("[data-testid=customer-name]")).to_have_text("第一位")
    expect(notes).to_have_value("第一位的备注")
    page.locator("#messages").click()  # leaving the box saves nothing more
    assert customer_notes_become(page, live, second["customer_id"], "第二位的备注，只发顺丰") == "第二位的备注，只发顺丰"
    assert live.helper("customer", customer_id=first["customer_id"])["notes"] == "第一位的备注"


def test_notes_left_while_an_earlier_edit_is_saving_go_to_their_buyer(live, browser):
    seed = live.helper("seed", agents=["小美"])
    first, second = two_buyers_with_notes(live, seed["shop"]["slug"])
    page = browser.agent_page(seed["agents"][0])
    row_of(page, second["conversation_id"]).click()
    notes = page.locator("[data-testid=customer-notes]")
    expect(notes).to_have_value("第二位的备注")

    held = []  # the VIP level's save, held on its way until the other buyer shows

    def hold_the_first_edit(route):
        if route.request.method == "PATCH" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/v1/customers/*/", hold_the_first_edit)
    page.select_option("[data-testid=customer-vip]", "3")
    notes.fill("只属于第二位的备注")
    row_of(page, first["conversation_id"]).click()  # leaves the box: its save waits behind the VIP's

    expect(notes).to_have_value("第一位的备注")
    held[0].continue_()
    assert customer_notes_become(page, live, second["customer_id"], "只属于第二位的备注") == "只属于第二位的备注"
    assert live.helper("customer", customer_id=second["customer_id"])["vip_level"] == 3
    assert live.helper("customer", customer_id=first["customer_id"]) == {"notes": "第一位的备注", "vip_level": 0, "tags": []}


def test_notes_typed_but_never_left_are_saved_when_the_page_goes(live, browser):
    seed = live.helper("seed", agents=["小美"])
    sent = live.helper("buyer_message", slug=seed["shop"]["slug"], buyer_id="tb-reload", nickname="刷新前", text="在吗")
    page = browser.agent_page(seed["agents"][0])
    row_of(page, sent["conversation_id"]).click()
    notes = page.locator("[data-testid=customer-notes]")
    expect(notes).to_be_editable()  # the profile is loaded
    notes.click()
    page.keyboard.type("写完就刷新了")
    page.reload()
    assert customer_notes_become(page, live, sent["customer_id"], "写完就刷新了") == "写完就刷新了"


def test_the_panel_reads_the_profile_again_after_a_reconnect_and_tags_add_to_the_servers(live, browser):
    seed = live.helper("seed", agents=["小美"])
    sent = live.helper("buyer_message", slug=seed["shop"]["slug"], buyer_id="tb-tags", nickname="标签买家", text="在吗")
    live.helper("customer_update", customer_id=sent["customer_id"], tags=["老客户"])
    page = browser.agent_page(seed["agents"][0])
    row_of(page, sent["conversation_id"]).click()
    tags = page.locator("[data-testid=customer-tags] .tag")
    expect(tags).to_have_text(["老客户×"])

    # A colleague tags the buyer while this tab's socket is away: the panel does not know yet,
    # and a tag added here joins the colleague's instead of replacing the list it shows.
    page.evaluate("window.dxeSocket.drop(60000)")
    live.helper("customer_tag_add", customer_id=sent["customer_id"], name="阿强加的")
    page.fill("#tag-input", "小美加的")
    page.press("#tag-input", "Enter")
    expect(tags).to_have_text(["老客户×", "阿强加的×", "小美加的×"])
    assert live.helper("customer", customer_id=sent["customer_id"])["tags"] == ["小美加的", "老客户", "阿强加的"]

    # Another edit while away; back online, the panel shows it.
    live.helper("customer_update", customer_id=sent["customer_id"], vip_level=4)
    live.helper("customer_tag_add", customer_id=sent["customer_id"], name="易退款")
    page.evaluate("window.dxeSocket.drop(0); window.dxeSocket.reconnectNow()")
    page.wait_for_selector('#conn[data-state="open"]')
    expect(tags).to_have_text(["老客户×", "阿强加的×", "小美加的×", "易退款×"])
    expect(page.locator("[data-testid=customer-vip]")).to_have_value("4")

    tags.filter(has_text="阿强加的").locator("button").click()
    expect(tags).to_have_text(["老客户×", "小美加的×", "易退款×"])
    assert live.helper("customer", customer_id=sent["customer_id"])["tags"] == ["小美加的", "易退款", "老客户"]


def test_a_long_order_history_shows_a_page_and_more_on_demand(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-loyal", nickname="老主顾", text="还是上次那款袜子")
    live.helper("order_history", slug=slug, buyer_id="tb-loyal", count=27)
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    orders = page.locator("[data-testid=customer-orders] .order")
    expect(orders).to_have_count(25)
    expect(orders.first).to_contain_text("TB0027")
    page.get_by_role("button", name="更多订单").click()
    expect(orders).to_have_count(27)
    expect(orders.last).to_contain_text("TB0001")
    expect(page.get_by_role("button", name="更多订单")).to_have_count(0)


def test_an_order_paid_meanwhile_shows_in_the_open_panel(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-pay", nickname="犹豫的买家", text="我再想想")
    order = dict(slug=slug, buyer_id="tb-pay", number="TB20261124007", amount="129.00", title="羊毛围巾 驼色")
    live.helper("order", status="pending_payment", **order)
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    orders = page.locator("[data-testid=customer-orders]")
    expect(orders).to_contain_text("待付款")

    # The buyer pays after the 催付: the platform's order update reaches the webhook.
    event = live.helper("signed_order_event", status="paid", **order)
    request = urllib.request.Request(live.url(event["path"]), data=event["body"].encode(), headers=event["headers"])
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    expect(orders).to_contain_text("已付款")
    expect(orders).not_to_contain_text("待付款")


def test_list_pages_in_by_scrolling_and_filters(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    for n in range(42):
        live.helper("buyer_message", slug=slug, buyer_id=f"tb-{n}", nickname=f"买家{n:02d}", text=f"第{n}个问题")
    page = browser.agent_page(agent)
    rows = page.locator("[data-testid=conversation]")
    expect(rows).to_have_count(30)
    expect(rows.first).to_contain_text("买家41")  # newest first
    page.locator("#conv-list").evaluate("list => list.scrollTo(0, list.scrollHeight)")
    expect(rows).to_have_count(42)
    expect(rows.last).to_contain_text("买家00")

    page.fill("#search", "买家07")
    expect(rows).to_have_count(1)
    page.fill("#search", "")
    expect(rows).to_have_count(30)
    page.click(".tab[data-view=mine]")
    expect(rows).to_have_count(0)
    expect(page.locator(".list-sentinel")).to_have_text("暂无会话")
    page.click(".tab[data-view=unassigned]")
    expect(rows).to_have_count(30)
    rows.first.click()
    page.click("[data-testid=assign-me]")
    page.click(".tab[data-view=mine]")
    expect(rows).to_have_count(1)
    page.select_option("#status-filter", "resolved")
    expect(rows).to_have_count(0)


def test_an_agent_of_two_shops_sees_each_rows_shop(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    xiaomei, aqiang = seed["agents"]
    other = live.helper("seed", shop_name="测试京东店", agents=[])
    live.helper("join", agent_id=xiaomei["id"], slug=other["shop"]["slug"])
    flagship = live.helper("buyer_message", slug=seed["shop"]["slug"], buyer_id="tb-1", nickname="买家甲", text="在吗")
    jd = live.helper("buyer_message", slug=other["shop"]["slug"], buyer_id="jd-1", nickname="买家乙", text="在吗")

    page = browser.agent_page(xiaomei, viewport=(1024, 768))
    expect(row_of(page, flagship["conversation_id"]).locator("[data-testid=row-shop]")).to_have_text("测试旗舰店")
    expect(row_of(page, jd["conversation_id"]).locator("[data-testid=row-shop]")).to_have_text("测试京东店")
    shot(page, "list-two-shops")

    single = browser.agent_page(aqiang)  # one shop: no label
    expect(row_of(single, flagship["conversation_id"])).to_be_visible()
    expect(single.locator("[data-testid=row-shop]")).to_have_count(0)


def test_a_resolved_conversation_leaves_the_open_list_once_another_is_opened(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    for n in range(2):
        live.helper("buyer_message", slug=slug, buyer_id=f"tb-{n}", nickname=f"买家{n}", text=f"问题{n}")
    page = browser.agent_page(agent)
    rows = page.locator("[data-testid=conversation]")
    expect(rows).to_have_count(2)
    rows.filter(has_text="买家1").click()
    page.click("[data-testid=resolve]")
    expect(page.locator("[data-testid=thread-status]")).to_have_text("已解决")
    expect(rows).to_have_count(2)  # still there while it is open: the agent is looking at it
    rows.filter(has_text="买家0").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("买家0")


def test_the_list_is_read_again_after_a_reconnect(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug, xiaomei, aqiang = seed["shop"]["slug"], seed["agents"][0], seed["agents"][1]
    ids = {
        name: live.helper("buyer_message", slug=slug, buyer_id=f"tb-{name}", nickname=f"买家{name}", text="在吗")["conversation_id"]
        for name in "ABCD"
    }
    for name in "BCD":
        live.helper("assign", conversation_id=ids[name], agent_id=xiaomei["id"])
    page = browser.agent_page(xiaomei)
    rows = page.locator("[data-testid=conversation]")
    conn = page.locator("#conn")

    def away(*changes):
        """The socket is down while a colleague makes ``changes``; then it comes back."""
        page.evaluate("dxeSocket.drop(60000)")
        expect(conn).not_to_have_attribute("data-state", "open")
        for op, args in changes:
            live.helper(op, **args)
        page.evaluate("dxeSocket.holdUntil = 0; dxeSocket.reconnectNow()")
        expect(conn).to_have_attribute("data-state", "open")

    # 全部 · 进行中: a conversation resolved meanwhile leaves, one taken by 阿强 says so.
    expect(rows).to_have_count(4)
    away(
        ("resolve", {"conversation_id": ids["A"], "agent_id": aqiang["id"]}),
        ("assign", {"conversation_id": ids["B"], "agent_id": aqiang["id"]}),
    )
    expect(row_of(page, ids["A"])).to_have_count(0)
    expect(row_of(page, ids["B"]).locator(".conv-assignee")).to_have_text("阿强")
    expect(rows).to_have_count(3)

    # 我的: taken rows leave, except the open one, which stays while it is open.
    page.click(".tab[data-view=mine]")
    expect(rows).to_have_count(2)
    row_of(page, ids["C"]).click()
    away(
        ("assign", {"conversation_id": ids["C"], "agent_id": aqiang["id"]}),
        ("assign", {"conversation_id": ids["D"], "agent_id": aqiang["id"]}),
    )
    expect(row_of(page, ids["D"])).to_have_count(0)
    expect(row_of(page, ids["C"]).locator(".conv-assignee")).to_have_text("阿强")
    expect(rows).to_have_count(1)


def test_snoozing_a_conversation_until_the_buyer_writes_or_its_time_comes(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-snooze", nickname="等快递的人", text="快递到了我再联系你")
    page = browser.agent_page(agent)
    rows = page.locator("[data-testid=conversation]")
    rows.first.click()
    status = page.locator("[data-testid=thread-status]")
    menu = page.locator("[data-testid=snooze-menu]")
    lines = page.locator("#messages .line")

    # From the keyboard: the menu opens on its button, arrows move, Esc closes it and gives
    # the focus back.
    page.focus("[data-testid=snooze]")
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem").nth(1)).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(page.locator("[data-testid=snooze]")).to_be_focused()

    # Snoozed for an hour: the header and the thread say until when; it sits under 稍后处理.
    page.click("[data-testid=snooze]")
    shot(page, "workspace-snooze-menu")
    menu.get_by_role("menuitem", name="1 小时后").click()
    expect(status).to_have_text(re.compile(r"^稍后处理 · 至 (\d\d-\d\d )?\d\d:\d\d$"))
    expect(lines.last).to_contain_text("小美 将会话设为稍后处理，至")
    expect(page.locator("[data-testid=reopen]")).to_be_visible()
    page.select_option("#status-filter", "snoozed")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".pill-snoozed")).to_contain_text("稍后处理 · 至")

    # The buyer writes: it is open again at once, and leaves the snoozed list.
    live.helper("buyer_message", slug=slug, buyer_id="tb-snooze", text="快递到了")
    expect(status).to_have_text("进行中")
    expect(page.locator("#messages .line", has_text="买家发来新消息，会话已重新打开")).to_have_count(1)

    # Snoozed to a time of the agent's own; the beat's sweep at that time opens it again live.
    page.click("[data-testid=snooze]")
    page.fill("[data-testid=snooze-at]", "2099-01-01T09:30")
    expect(menu).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator(".toast.error")).to_contain_text("30")  # too far ahead: the server says why
    page.click("[data-testid=snooze]")
    tomorrow = page.evaluate(
        "(() => { const d = new Date(Date.now() + 86400000); const p = (n) => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T10:15`; })()"
    )
    page.fill("[data-testid=snooze-at]", tomorrow)
    page.keyboard.press("Enter")
    expect(status).to_have_text(re.compile(r"^稍后处理 · 至 \d\d-\d\d 10:15$"))
    assert live.helper("snooze_time_comes", conversation_id=sent["conversation_id"]) == [sent["conversation_id"]]
    expect(status).to_have_text("进行中")
    expect(lines.last).to_have_text("稍后处理时间已到，会话已重新打开")


def test_language_switch_to_english_and_back(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    live.helper("buyer_message", slug=slug, buyer_id="tb-1", nickname="Lily", text="Hello?")
    page = browser.agent_page(agent)
    expect(page.locator("[data-testid=logout]")).to_have_text("退出登录")
    page.select_option("#lang-ws", "en")
    page.wait_for_selector('#conn[data-state="open"]')
    expect(page.locator("[data-testid=logout]")).to_have_text("Sign out")
    expect(page.locator(".tab[data-view=mine]")).to_have_text("Mine")
    expect(page.locator("#conn")).to_contain_text("Connected")
    page.locator("[data-testid=conversation]").first.click()
    expect(page.locator("[data-testid=send]")).to_have_text("Send")
    expect(page.locator("#status-filter option:checked")).to_have_text("Open")
    shot(page, "workspace-english")
    page.select_option("#lang-ws", "zh-hans")
    expect(page.locator("[data-testid=logout]")).to_have_text("退出登录")


def test_login_logout_and_no_shop_page(live, browser):
    seed = live.helper("seed", agents=["小美"])
    agent = seed["agents"][0]
    page = browser.page()
    page.goto(live.url("/inbox/"))
    expect(page).to_have_url(live.url("/accounts/login/?next=/inbox/"))
    page.fill("input[name=username]", agent["username"])
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".alert-error")).to_be_visible()
    shot(page, "login")
    page.fill("input[name=password]", agent["password"])
    page.click("button[type=submit]")
    page.wait_for_selector('#conn[data-state="open"]')
    expect(page).to_have_url(live.url("/inbox/"))
    page.click("[data-testid=logout]")
    expect(page).to_have_url(live.url("/accounts/login/"))

    loner = live.helper("user_without_shop")
    other = browser.page(session=loner["session"])
    response = other.goto(live.url("/inbox/"))
    assert response.status == 403
    expect(other.locator("[data-testid=no-membership]")).to_contain_text("你还没有加入任何店铺")
    shot(other, "no-membership")


def test_signing_out_in_another_tab_sends_this_one_to_the_login_page(live, browser):
    seed = live.helper("seed", agents=["小美"])
    page = browser.agent_page(seed["agents"][0])
    other_tab = page.context.new_page()
    other_tab.goto(live.url("/inbox/"))
    other_tab.wait_for_selector('#conn[data-state="open"]')
    other_tab.click("[data-testid=logout]")
    expect(other_tab).to_have_url(live.url("/accounts/login/"))
    # The first tab's socket closes with the session: it reloads onto the login page.
    expect(page).to_have_url(live.url("/accounts/login/?next=/inbox/"))


def test_a_long_nickname_ends_in_an_ellipsis_clear_of_the_thread_actions(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    nickname = "超长昵称的买家" * 14
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-long", nickname=nickname, text="在吗")
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    name = page.locator("[data-testid=thread-name]")
    expect(name).to_have_text(nickname)
    name_box, actions_box = name.bounding_box(), page.locator(".thread-actions").bounding_box()
    assert name_box["x"] + name_box["width"] <= actions_box["x"]


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_thread_header_keeps_the_name_and_meta_on_one_line_each_on_narrow_screens(live, browser, locale):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    other = live.helper("seed", shop_name="测试京东店", agents=[])
    live.helper("join", agent_id=agent["id"], slug=other["shop"]["slug"])  # the meta names the shop too
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-narrow", nickname="爱吃鱼的猫咪小姐姐", text="在吗")
    page = browser.agent_page(agent, locale=locale, viewport=(1024, 768))
    row_of(page, sent["conversation_id"]).click()
    name, meta = page.locator("[data-testid=thread-name]"), page.locator("#thread-meta")
    expect(meta).to_contain_text("测试旗舰店")
    for width in (1440, 1280, 1024):
        page.set_viewport_size({"width": width, "height": 768})
        shot(page, f"thread-header-{locale}-{width}")
        assert name.bounding_box()["width"] >= 140, width  # the name reads, not "爱…"
        assert name.bounding_box()["height"] < 26, width  # one line each
        assert meta.bounding_box()["height"] < 20, width
        assert page.locator(".thread-header").bounding_box()["height"] <= 100, width


def test_a_conversation_opened_while_the_server_was_away_loads_once_it_is_back(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-away", nickname="等回复", text="发货了吗")
    page = browser.agent_page(agent)
    page.route("**/api/v1/**", lambda route: route.abort())  # the server is away
    page.evaluate("window.dxeSocket.drop(3000)")
    row_of(page, sent["conversation_id"]).click()
    expect(page.locator(".toast").first).to_be_visible()  # loading failed
    page.unroute("**/api/v1/**")  # back; the socket reconnects a moment later
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["发货了吗"], timeout=10_000)
    expect(page.locator("[data-testid=customer-name]")).to_have_text("等回复")


def test_platform_reply_shows_its_delivery_state(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("platform_buyer_message", slug=slug, buyer_id="tb-platform", nickname="淘宝买家", text="发什么快递？")
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    expect(page.locator("#thread-meta")).to_contain_text("平台")
    composer = page.locator("[data-testid=composer]")
    composer.fill("默认中通，可以备注顺丰")
    composer.press("Enter")
    # The channel has no outbound URL, so delivery fails at once; the reason arrives live,
    # in Chinese, on a line under the bubble (not only in a tooltip).
    failed = page.locator("#messages [data-sender=agent] [data-testid=delivery-failed]")
    expect(failed).to_have_text("发送到平台失败：渠道未设置平台回调地址，请联系管理员设置")
    expect(failed).to_be_visible()
    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    expect(failed).to_have_text("发送到平台失败：渠道未设置平台回调地址，请联系管理员设置")


def test_a_failed_platform_delivery_says_why_in_chinese_and_retries_live(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug, xiaomei, aqiang = seed["shop"]["slug"], seed["agents"][0], seed["agents"][1]
    sent = live.helper("platform_buyer_message", slug=slug, buyer_id="tb-retry", nickname="淘宝买家", text="发货了吗？")
    conversation_id = sent["conversation_id"]
    page = browser.agent_page(xiaomei)
    other = browser.agent_page(aqiang)  # a colleague with the same conversation open
    row_of(page, conversation_id).click()
    row_of(other, conversation_id).click()
    page.locator("[data-testid=composer]").fill("今天下午发出")
    page.locator("[data-testid=composer]").press("Enter")

    # No outbound URL yet: the reason shows in Chinese under the bubble, on both screens.
    reason = "发送到平台失败：渠道未设置平台回调地址，请联系管理员设置"
    for screen in (page, other):
        expect(screen.locator("#messages [data-sender=agent] [data-testid=delivery-failed]")).to_have_text(reason)
    shot(page, "delivery-failed")

    with FakePlatform() as platform:
        live.helper("platform_outbound", slug=slug, url=platform.url)
        page.locator("#messages [data-testid=delivery-retry]").click()
        # The retry goes out at once and the new state reaches both agents live.
        for screen in (page, other):
            state = screen.locator("#messages [data-sender=agent] .msg-state")
            expect(state).to_have_text("已送达平台")
            expect(screen.locator("#messages [data-testid=delivery-failed]")).to_have_count(0)
        [request] = platform.requests
        assert json.loads(request["body"])["message"]["text"] == "今天下午发出"
    [reply] = live.helper("delivery", conversation_id=conversation_id)
    assert (reply["delivery_state"], reply["delivery_error_code"], reply["delivery_attempts"]) == ("sent", "", 2)


def test_a_delivery_retried_while_this_tab_was_offline_shows_delivered_once_back(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug, xiaomei, aqiang = seed["shop"]["slug"], seed["agents"][0], seed["agents"][1]
    sent = live.helper("platform_buyer_message", slug=slug, buyer_id="tb-away", nickname="淘宝买家", text="发货了吗？")
    conversation_id = sent["conversation_id"]
    page = browser.agent_page(xiaomei)
    row_of(page, conversation_id).click()
    page.locator("[data-testid=composer]").fill("明天发")
    page.locator("[data-testid=composer]").press("Enter")
    expect(page.locator("#messages [data-testid=delivery-failed]")).to_have_count(1)

    # Away while a colleague fixes the channel and retries: the delivery event is missed.
    page.evaluate("dxeSocket.drop(60000)")
    expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")
    with FakePlatform() as platform:
        live.helper("platform_outbound", slug=slug, url=platform.url)
        live.helper("delivery_retry", conversation_id=conversation_id, agent_id=aqiang["id"])
        assert len(platform.requests) == 1
    page.evaluate("dxeSocket.holdUntil = 0; dxeSocket.reconnectNow()")
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    expect(page.locator("#messages [data-sender=agent] .msg-state")).to_have_text("已送达平台")
    expect(page.locator("#messages [data-testid=delivery-failed]")).to_have_count(0)


def test_new_messages_pill_when_reading_history(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    for n in range(30):
        sent = live.helper("buyer_message", slug=slug, buyer_id="tb-long", nickname="话痨买家", text=f"第{n}条消息，" + "很长的内容" * 8)
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    expect(page.locator("#messages [data-testid=message]")).to_have_count(30)
    page.locator("#messages").evaluate("box => box.scrollTo(0, 0)")
    buyer = browser.page(mobile=True)
    token = live.helper("shop_token", slug=slug, buyer_id="tb-long", nickname="话痨买家")
    buyer.goto(live.url(f"/chat/{slug}/?token={token}"))
    buyer.wait_for_selector('#conn-dot[data-state="open"]')
    buyer.fill("[data-testid=composer]", "还在吗")
    buyer.keyboard.press("Enter")
    pill = page.locator("[data-testid=new-messages]")
    expect(pill).to_be_visible()
    pill.click()
    expect(pill).to_be_hidden()
    expect(page.locator("#messages [data-testid=message-text]").last).to_be_in_viewport()


def test_the_buyer_panel_pages_past_conversations_and_opens_one(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    past = live.helper("buyer_history", slug=slug, buyer_id="tb-back", nickname="回头客", count=12, assignee_id=agent["id"])
    now = live.helper("buyer_message", slug=slug, buyer_id="tb-back", nickname="回头客", text="又来问了")
    page = browser.agent_page(agent)
    row_of(page, now["conversation_id"]).click()

    history = page.locator("[data-testid=customer-history] [data-testid=history-conversation]")
    expect(history).to_have_count(10)
    expect(history.first).to_contain_text("第12次咨询")
    expect(history.first).to_contain_text("已解决")
    expect(history.first).to_contain_text("我")  # taken by this agent
    page.get_by_role("button", name="更多会话").click()
    expect(history).to_have_count(12)
    expect(history.last).to_contain_text("第1次咨询")
    expect(page.get_by_role("button", name="更多会话")).to_have_count(0)
    shot(page, "workspace-past-conversations")

    # The follow-up's thread links the conversation it follows.
    previous = page.locator("[data-testid=previous-conversation]")
    expect(previous).to_have_text(re.compile(r"^上一次会话 · \d{2}:\d{2}$"))
    previous.click()
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["第12次咨询"])
    expect(page.locator("[data-testid=thread-status]")).to_have_text("已解决")
    expect(page.locator("[data-testid=reopen]")).to_be_visible()
    assert page.url.endswith(f"?c={past[-1]}")
    # Its panel lists the others, the follow-up first; a click opens that one again.
    expect(history.first).to_contain_text("又来问了")
    history.first.click()
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["又来问了"])
    expect(history.first).to_contain_text("第12次咨询")

    # A conversation opened from the panel is the same thread as from the list: it reloads too.
    history.nth(3).click()
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["第9次咨询"])
    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["第9次咨询"])
    expect(previous).to_have_count(1)


def test_a_follow_up_after_a_resolve_shows_in_the_panel_live_and_links_back(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug, (agent, colleague) = seed["shop"]["slug"], seed["agents"]
    buyer = browser.page(mobile=True)
    buyer.goto(live.url(f"/chat/{slug}/"))
    buyer.wait_for_selector('#conn-dot[data-state="open"]')
    buyer.fill("[data-testid=composer]", "我的快递到哪了？")
    buyer.keyboard.press("Enter")
    page = browser.agent_page(agent)
    page.locator("[data-testid=conversation]", has_text="我的快递到哪了？").click()
    history = page.locator("[data-testid=customer-history] [data-testid=history-conversation]")
    expect(page.locator("[data-testid=customer-history]")).to_have_text("暂无其他会话")
    expect(page.locator("[data-testid=previous-conversation]")).to_have_count(0)
    page.click("[data-testid=resolve]")
    expect(buyer.locator(".line")).to_contain_text(["本次会话已结束"])
    (resolved,) = live.helper("conversations", slug=slug)
    live.helper("age_resolve", conversation_id=resolved["id"])

    # The buyer writes again: a new conversation, which the open panel lists at once.
    buyer.fill("[data-testid=composer]", "还是没收到")
    buyer.keyboard.press("Enter")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("还是没收到")
    expect(history.first).to_contain_text("未分配")
    # A colleague takes and resolves it: the panel's row follows live.
    follow_up = max(c["id"] for c in live.helper("conversations", slug=slug))
    live.helper("assign", conversation_id=follow_up, agent_id=colleague["id"])
    expect(history.first).to_contain_text("阿强")
    live.helper("resolve", conversation_id=follow_up, agent_id=colleague["id"])
    expect(history.first.locator(".pill")).to_have_text("已解决")
    history.first.click()
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["还是没收到"])
    page.locator("[data-testid=previous-conversation]").click()
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["我的快递到哪了？"])


def focused_row_id(page) -> str | None:
    return page.evaluate("document.activeElement.closest('[data-testid=conversation]')?.dataset.id ?? null")


def test_the_list_is_one_tab_stop_moved_through_by_keys(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    ids = [live.helper("buyer_message", slug=slug, buyer_id=f"tb-{n}", nickname=f"买家{n}", text=f"问题{n}")["conversation_id"] for n in range(3)]
    page = browser.agent_page(agent)
    rows = page.locator("[data-testid=conversation]")
    expect(rows).to_have_count(3)
    first, second, third = [str(i) for i in reversed(ids)]
    active = page.locator("[data-testid=conversation].is-active")

    # Tab from the filters lands on the first row; the others are out of the Tab order.
    page.focus("#status-filter")
    page.keyboard.press("Tab")
    assert focused_row_id(page) == first
    assert page.locator('[data-testid=conversation][tabindex="0"]').count() == 1
    assert page.evaluate("getComputedStyle(document.activeElement).boxShadow") != "none"  # a visible ring

    # Arrows and j/k move the focus only; Home/End jump; nothing opens on the way.
    page.keyboard.press("ArrowDown")
    assert focused_row_id(page) == second
    page.keyboard.press("j")
    assert focused_row_id(page) == third
    page.keyboard.press("ArrowDown")
    assert focused_row_id(page) == third
    page.keyboard.press("k")
    assert focused_row_id(page) == second
    page.keyboard.press("Home")
    assert focused_row_id(page) == first
    page.keyboard.press("End")
    assert focused_row_id(page) == third
    expect(active).to_have_count(0)
    expect(page.locator("#thread")).to_be_hidden()

    # Enter opens the focused conversation, Space too; the focus stays in the list.
    page.keyboard.press("Enter")
    expect(active).to_have_attribute("data-id", third)
    expect(page.locator("[data-testid=thread-name]")).to_have_text("买家0")
    assert focused_row_id(page) == third
    page.keyboard.press("ArrowUp")
    page.keyboard.press(" ")
    expect(active).to_have_attribute("data-id", second)
    expect(page.locator("[data-testid=thread-name]")).to_have_text("买家1")

    # Shift+Tab leaves the list and Tab comes back to the same row: one Tab stop.
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#status-filter")).to_be_focused()
    page.keyboard.press("Tab")
    assert focused_row_id(page) == second
    page.keyboard.press("Tab")
    assert focused_row_id(page) is None

    # A row rebuilt by a live update keeps the focus, though it moved to the top.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("ArrowDown")
    assert focused_row_id(page) == third
    live.helper("buyer_message", slug=slug, buyer_id="tb-0", text="还在吗")
    expect(rows.first).to_have_attribute("data-id", third)
    expect(row_of(page, int(third)).locator(".conv-preview")).to_have_text("还在吗")
    assert focused_row_id(page) == third
    shot(page, "workspace-list-focus")

    # A mouse click opens without leaving focus in the list, so j opens the next one as before.
    row_of(page, int(first)).click()
    expect(active).to_have_attribute("data-id", first)
    page.keyboard.press("j")
    expect(active).to_have_attribute("data-id", second)


def test_the_shortcut_help_takes_the_focus_and_gives_it_back(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-help", nickname="买家", text="在吗")
    page = browser.agent_page(agent)
    dialog, close = page.locator("#help"), page.locator("#help .overlay-close")
    help_button = page.locator("#help-btn")

    help_button.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(close).to_be_focused()
    assert page.evaluate("document.getElementById('workspace').inert")
    page.keyboard.press("Tab")  # the focus stays inside
    expect(close).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(close).to_be_focused()
    page.keyboard.press("j")  # shortcuts wait while it is open
    expect(page.locator("[data-testid=conversation].is-active")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(help_button).to_be_focused()
    assert not page.evaluate("document.getElementById('workspace').inert")

    # Opened with ? from a list row, it returns there; its × closes it too.
    page.focus("#status-filter")
    page.keyboard.press("Tab")
    assert focused_row_id(page) == str(sent["conversation_id"])
    page.keyboard.press("?")
    expect(close).to_be_focused()
    close.click()
    expect(dialog).to_be_hidden()
    assert focused_row_id(page) == str(sent["conversation_id"])


def test_an_image_refused_for_good_is_removed_one_that_failed_on_the_way_is_retried(live, browser, tmp_path):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-img", nickname="发图", text="能发张实拍图吗")
    page = browser.agent_page(agent)
    row_of(page, sent["conversation_id"]).click()
    expect(page.locator("#messages [data-testid=message-text]")).to_have_text(["能发张实拍图吗"])
    mine = page.locator("#messages [data-sender=agent]")

    # Not an image, and a fake PNG: the server refuses both, so they can only be removed.
    text = tmp_path / "尺码表.txt"
    text.write_text("S M L XL")
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    page.set_input_files("[data-testid=image-input]", str(text))
    page.set_input_files("[data-testid=image-input]", str(fake))
    expect(mine.locator(".msg-state.is-failed")).to_contain_text(["发送失败: 文件不是有效的图片。", "发送失败: 文件不是有效的图片。"])
    expect(mine.locator("[data-testid=retry]")).to_have_count(0)
    expect(mine.locator("[data-testid=message-file]")).to_have_text(["尺码表.txt", "fake.png"])
    page.wait_for_function("() => [...document.querySelectorAll('#messages img')].every((i) => !i.complete || i.naturalWidth > 0)")
    shot(page, "workspace-images-refused")
    mine.locator("[data-testid=dismiss]").first.click()
    mine.locator("[data-testid=dismiss]").first.click()
    expect(mine).to_have_count(0)

    # A server error on the way: retried with the same file.
    def post_fails(route):
        if route.request.method != "POST":
            return route.fallback()
        return route.fulfill(status=503, json={"error": {"code": "internal", "message": "稍后再试"}})

    page.route("**/messages/", post_fails)
    page.set_input_files("[data-testid=image-input]", str(png_file(tmp_path, "实拍.png", size=(90, 60))))
    expect(mine.locator(".msg-state.is-failed")).to_contain_text("发送失败: 稍后再试")
    expect(mine.locator("[data-testid=dismiss]")).to_have_count(0)
    page.unroute("**/messages/")
    mine.locator("[data-testid=retry]").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#messages [data-sender=agent] [data-testid=message-image]')].some((i) => i.complete && i.naturalWidth === 90 && i.src.includes('/attachments/'))"
    )
    expect(mine.locator(".msg-state.is-failed")).to_have_count(0)
    assert [(m["sender_kind"], m["images"]) for m in live.helper("messages", conversation_id=sent["conversation_id"])] == [("buyer", 0), ("agent", 1)]
