"""The heart of the product, end to end: a buyer on the chat page and an agent in the workspace."""
import json
import time

import pytest
from playwright.sync_api import expect

from .conftest import png_file, shot

pytestmark = pytest.mark.browser


def buyer_page(browser, slug: str, **kwargs):
    page = browser.page(mobile=True, **kwargs)
    page.goto(browser.live.url(f"/chat/{slug}/"))
    page.wait_for_selector('#conn-dot[data-state="open"]')
    return page


def thread_texts(page) -> list[str]:
    return page.locator("#messages [data-testid=message] [data-testid=message-text]").all_inner_texts()


def buyer_send(page, text: str) -> None:
    page.fill("[data-testid=composer]", text)
    page.keyboard.press("Enter")


def pin(page, row):
    """The same list row by conversation id, whatever its preview says later."""
    return page.locator(f'[data-testid=conversation][data-id="{row.get_attribute("data-id")}"]')


def wait_acked(page) -> None:
    expect(page.locator("[data-testid=pending]")).to_have_count(0)


def test_buyer_and_agent_chat_live(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]

    workspace = browser.agent_page(agent)
    expect(workspace.locator(".list-sentinel")).to_have_text("暂无会话")
    buyer = buyer_page(browser, slug)

    # The buyer writes; the agent's open workspace shows it without a reload, within a second.
    buyer_send(buyer, "你好，这件卫衣有 XL 吗？")
    started = time.monotonic()
    row = workspace.locator("[data-testid=conversation]", has_text="你好，这件卫衣有 XL 吗？")
    expect(row).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 1.0
    row = pin(workspace, row)
    expect(row.locator("[data-testid=unread]")).to_have_text("1")
    wait_acked(buyer)
    expect(buyer.locator("[data-testid=read-state]")).to_have_text("未读")

    # A waiting buyer's wait time counts up live.
    wait = row.locator(".wait")
    first = wait.inner_text()
    expect(wait).not_to_have_text(first, timeout=2500)

    # Opening the thread marks it read: the buyer sees 已读, the badge goes.
    row.click()
    expect(workspace.locator("#messages [data-testid=message-text]")).to_have_text(["你好，这件卫衣有 XL 吗？"])
    expect(buyer.locator("[data-testid=read-state]")).to_have_text("已读", timeout=2000)
    expect(row.locator("[data-testid=unread]")).to_have_count(0)

    # Typing shows on both sides.
    buyer.fill("[data-testid=composer]", "还有")
    buyer.locator("[data-testid=composer]").press_sequentially("…")
    expect(workspace.locator("#typing-line")).to_contain_text("正在输入", timeout=2000)
    composer = workspace.locator("[data-testid=composer]")
    composer.click()
    composer.press_sequentially("有的")
    expect(buyer.locator("#typing")).to_contain_text("小美 正在输入", timeout=2000)

    # The agent replies; the buyer sees it within a second, and the agent sees it read.
    composer.fill("有的亲，XL 现货，今天下单今天发货～")
    composer.press("Enter")
    started = time.monotonic()
    reply = buyer.locator("[data-testid=message][data-sender=agent]", has_text="有的亲，XL 现货")
    expect(reply).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 1.0
    expect(reply.locator(".msg-who")).to_have_text("小美")
    expect(buyer.locator("#typing")).to_have_text("")
    wait_acked(workspace)
    mine = workspace.locator("#messages [data-testid=message][data-sender=agent]")
    expect(mine.locator("[data-testid=read-state]")).to_have_text("已读", timeout=2000)
    expect(composer).to_have_value("")

    # The reply took the conversation; resolving it: the list row and the buyer follow.
    expect(row.locator(".conv-assignee")).to_have_text("我")
    expect(workspace.locator("[data-testid=assign-select]")).to_have_value(str(agent["id"]))
    expect(workspace.locator("[data-testid=assign-me]")).to_be_hidden()
    workspace.click("[data-testid=resolve]")
    expect(workspace.locator("[data-testid=thread-status]")).to_have_text("已解决")
    expect(buyer.locator(".line")).to_contain_text(["本次会话已结束"])
    shot(workspace, "workspace-chat")
    shot(buyer, "buyer-chat")
    workspace.click("[data-testid=reopen]")
    expect(workspace.locator("[data-testid=thread-status]")).to_have_text("进行中")

    (conversation,) = live.helper("conversations", slug=slug)
    assert conversation["assignee_id"] == agent["id"]
    assert [m["text"] for m in live.helper("messages", conversation_id=conversation["id"])] == [
        "你好，这件卫衣有 XL 吗？",
        "有的亲，XL 现货，今天下单今天发货～",
    ]

    # History survives a reload of the buyer page (resync from seq 0).
    buyer.reload()
    expect(buyer.locator("[data-testid=message-text]")).to_have_text(
        ["你好，这件卫衣有 XL 吗？", "有的亲，XL 现货，今天下单今天发货～"]
    )
    expect(buyer.locator("[data-testid=read-state]")).to_have_text("已读")


def test_the_buyer_page_says_whether_anyone_is_online_to_answer(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    buyer = buyer_page(browser, slug)
    staffed = buyer.locator("[data-testid=staffed]")
    expect(staffed).to_have_text("客服暂时不在，留言后会尽快回复您")
    expect(buyer.locator("[data-testid=composer]")).to_have_attribute("placeholder", "留言给客服…")

    workspace = browser.agent_page(agent)
    expect(staffed).to_have_text("客服在线")
    expect(buyer.locator("[data-testid=composer]")).to_have_attribute("placeholder", "输入消息…")
    workspace.close()
    expect(staffed).to_have_text("客服暂时不在，留言后会尽快回复您")


def test_agent_reconnects_and_shows_missed_messages_once_in_order(live, browser):
    seed = live.helper("seed", agents=["阿强"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    workspace = browser.agent_page(agent)
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "在吗？")
    row = pin(workspace, workspace.locator("[data-testid=conversation]", has_text="在吗？"))
    row.click()
    expect(workspace.locator("#messages [data-testid=message-text]")).to_have_text(["在吗？"])

    # The agent's connection drops and stays down for a while.
    workspace.evaluate("window.dxeSocket.drop(3000)")
    expect(workspace.locator("#conn")).to_have_attribute("data-state", "offline")

    # Meanwhile the buyer sends two messages, and the agent answers into the void.
    buyer_send(buyer, "第一条：想问下尺码")
    buyer_send(buyer, "第二条：身高175体重70")
    wait_acked(buyer)
    composer = workspace.locator("[data-testid=composer]")
    composer.fill("稍等，我看一下")
    composer.press("Enter")
    expect(workspace.locator("[data-testid=pending]")).to_have_count(1)
    assert "第一条：想问下尺码" not in thread_texts(workspace)

    # It reconnects by itself, resyncs, and retries the unacknowledged send.
    expect(workspace.locator("#conn")).to_have_attribute("data-state", "open", timeout=10_000)
    expected = ["在吗？", "第一条：想问下尺码", "第二条：身高175体重70", "稍等，我看一下"]
    expect(workspace.locator("#messages [data-testid=message-text]")).to_have_text(expected)
    wait_acked(workspace)
    time.sleep(0.5)  # anything duplicated would have arrived by now
    assert thread_texts(workspace) == expected
    seqs = workspace.locator("#messages [data-testid=message]").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    expect(row).to_contain_text("稍等，我看一下")

    # The buyer got the retried reply exactly once; the database holds each message once.
    expect(buyer.locator("[data-testid=message-text]")).to_have_text(expected)
    (conversation,) = live.helper("conversations", slug=slug)
    assert [m["text"] for m in live.helper("messages", conversation_id=conversation["id"])] == expected

    # The buyer side reconnects the same way, and retries its own unacknowledged send.
    buyer.evaluate("window.dxeSocket.drop(2500)")
    expect(buyer.locator("#conn-dot")).to_have_attribute("data-state", "offline")
    buyer_send(buyer, "好的我等你")
    composer.fill("请问还在吗？")
    composer.press("Enter")
    expect(buyer.locator("[data-testid=pending]")).to_have_count(1)
    # The agent's reply is stored at once; the buyer's queued message when it reconnects.
    expected += ["请问还在吗？", "好的我等你"]
    expect(buyer.locator("[data-testid=message-text]")).to_have_text(expected, timeout=10_000)
    expect(workspace.locator("#messages [data-testid=message-text]")).to_have_text(expected)
    wait_acked(buyer)
    time.sleep(0.5)
    assert buyer.locator("[data-testid=message-text]").all_inner_texts() == expected
    assert [m["text"] for m in live.helper("messages", conversation_id=conversation["id"])] == expected


def test_image_round_trip(live, browser, tmp_path):
    seed = live.helper("seed", agents=["小雪"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    workspace = browser.agent_page(agent)
    buyer = buyer_page(browser, slug)

    buyer.set_input_files("[data-testid=image-input]", str(png_file(tmp_path, "buyer.png", size=(200, 150))))
    row = workspace.locator("[data-testid=conversation]", has_text="[图片]")
    row.click()
    image = workspace.locator("#messages [data-testid=message-image]")
    expect(image).to_have_count(1)
    workspace.wait_for_function(
        "() => { const i = document.querySelector('#messages [data-testid=message-image]'); return i && i.complete && i.naturalWidth === 200; }"
    )
    wait_acked(buyer)
    buyer.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=message-image]'); return i && i.complete && i.naturalWidth === 200 && i.src.includes('/attachments/'); }"
    )

    # Agent to buyer: the buyer's page fetches it with its session token.
    workspace.set_input_files("[data-testid=image-input]", str(png_file(tmp_path, "agent.png", size=(120, 90), color=(31, 94, 255))))
    buyer.wait_for_function(
        "() => [...document.querySelectorAll('[data-sender=agent] [data-testid=message-image]')].some(i => i.complete && i.naturalWidth === 120)"
    )
    workspace.wait_for_function(
        "() => [...document.querySelectorAll('#messages [data-sender=agent] [data-testid=message-image]')].some(i => i.complete && i.naturalWidth === 120 && i.src.includes('/attachments/'))"
    )

    # Pasting an image into the composer sends it too.
    workspace.locator("[data-testid=composer]").focus()
    workspace.evaluate(
        """async () => {
            const canvas = document.createElement("canvas");
            canvas.width = 64; canvas.height = 48;
            canvas.getContext("2d").fillRect(0, 0, 64, 48);
            const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
            const data = new DataTransfer();
            data.items.add(new File([blob], "pasted.png", { type: "image/png" }));
            const input = document.querySelector("[data-testid=composer]");
            input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }"""
    )
    buyer.wait_for_function(
        "() => [...document.querySelectorAll('[data-sender=agent] [data-testid=message-image]')].some(i => i.complete && i.naturalWidth === 64)"
    )

    shot(workspace, "workspace-images")
    shot(buyer, "buyer-images")

    # Click opens the lightbox.
    image.first.click()
    expect(workspace.locator("#lightbox")).to_be_visible()
    workspace.keyboard.press("Escape")
    expect(workspace.locator("#lightbox")).to_be_hidden()

    (conversation,) = live.helper("conversations", slug=slug)
    assert [(m["sender_kind"], m["images"]) for m in live.helper("messages", conversation_id=conversation["id"])] == [
        ("buyer", 1),
        ("agent", 1),
        ("agent", 1),
    ]


def test_private_note_reaches_agents_only(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug = seed["shop"]["slug"]
    first, second = seed["agents"]
    workspace = browser.agent_page(first)
    colleague = browser.agent_page(second)
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "我上周的订单还没到")
    workspace.locator("[data-testid=conversation]", has_text="我上周的订单还没到").click()

    workspace.click("[data-testid=note-mode]")
    expect(workspace.locator("#composer")).to_have_attribute("data-mode", "note")
    composer = workspace.locator("[data-testid=composer]")
    composer.fill("老客户，物流卡在中转站，先安抚")
    composer.press("Enter")
    note = workspace.locator("#messages [data-testid=note]")
    expect(note).to_contain_text("老客户，物流卡在中转站，先安抚")
    expect(note.locator(".msg-bubble")).to_have_css("background-color", "rgb(255, 248, 220)")

    # Another agent of the shop sees it live.
    colleague.locator("[data-testid=conversation]", has_text="我上周的订单还没到").click()
    expect(colleague.locator("#messages [data-testid=note]")).to_contain_text("老客户")

    # Hand it over to the colleague: it shows under their "mine" tab, live.
    colleague.click(".tab[data-view=mine]")
    expect(colleague.locator("[data-testid=conversation]")).to_have_count(0)
    workspace.select_option("[data-testid=assign-select]", str(second["id"]))
    expect(colleague.locator("[data-testid=conversation]")).to_have_count(1)
    # The live event names who did it, as a reload would.
    expect(workspace.locator("#messages .line")).to_contain_text(["小美 将会话分配给了 阿强"])
    workspace.reload()
    expect(workspace.locator("#messages .line")).to_contain_text(["小美 将会话分配给了 阿强"])

    # The reply after it reaches the buyer; the note never does.
    workspace.click("#composer .mode[data-mode=reply]")
    composer.fill("亲，帮您查了，快递已到中转站，明天送达")
    composer.press("Enter")
    expect(buyer.locator("[data-testid=message-text]").last).to_have_text("亲，帮您查了，快递已到中转站，明天送达")
    assert "老客户" not in buyer.content()
    buyer.reload()
    expect(buyer.locator("[data-testid=message-text]")).to_have_count(2)
    assert "老客户" not in buyer.content()


def test_the_list_tab_chooses_which_rows_come_live(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    workspace = browser.page(session=agent["session"])
    sent = []
    workspace.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    workspace.goto(live.url("/inbox/"))
    workspace.wait_for_selector('#conn[data-state="open"]')
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "第一句")
    row = pin(workspace, workspace.locator("[data-testid=conversation]").first)
    expect(row.locator(".conv-preview")).to_have_text("第一句")

    workspace.click(".tab[data-view=mine]")  # the server stops sending this unassigned chat's rows
    expect(row).to_have_count(0)
    buyer_send(buyer, "第二句")
    wait_acked(buyer)
    workspace.click(".tab[data-view=all]")
    expect(row.locator(".conv-preview")).to_have_text("第二句")
    buyer_send(buyer, "第三句")
    expect(row.locator(".conv-preview")).to_have_text("第三句")  # live again: the tab told the server

    views = [frame["view"] for frame in map(json.loads, sent) if frame.get("type") == "list"]
    assert views == ["all", "mine", "all"]  # on hello, then on each tab change


def test_a_second_tab_follows_the_buyer_into_a_new_conversation(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    first = buyer_page(browser, slug)
    second = first.context.new_page()  # the same buyer (cookie) in another tab
    second.goto(live.url(f"/chat/{slug}/"))
    second.wait_for_selector('#conn-dot[data-state="open"]')
    buyer_send(first, "之前问过的尺码问题")
    expect(second.locator("[data-testid=message-text]")).to_have_text(["之前问过的尺码问题"])

    workspace = browser.agent_page(agent)
    workspace.locator("[data-testid=conversation]", has_text="之前问过的尺码问题").click()
    workspace.click("[data-testid=resolve]")
    for tab in (first, second):
        expect(tab.locator(".line")).to_contain_text(["本次会话已结束"])
    (resolved,) = live.helper("conversations", slug=slug)
    live.helper("age_resolve", conversation_id=resolved["id"])

    buyer_send(first, "还有一个新问题")  # starts a new conversation
    expect(second.locator("[data-testid=message-text]")).to_have_text(["之前问过的尺码问题", "还有一个新问题"])
    workspace.locator("[data-testid=conversation]", has_text="还有一个新问题").click()
    workspace.locator("[data-testid=composer]").fill("新问题请讲")
    workspace.locator("[data-testid=composer]").press("Enter")
    for tab in (first, second):
        expect(tab.locator("[data-sender=agent] [data-testid=message-text]")).to_have_text(["新问题请讲"])
    (old, new) = live.helper("conversations", slug=slug)
    assert (old["status"], new["status"]) == ("resolved", "open")


def test_a_buyer_back_after_a_resolve_sees_that_chat_and_continues_or_follows_it(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "能开发票吗？")
    workspace = browser.agent_page(agent)
    workspace.locator("[data-testid=conversation]", has_text="能开发票吗？").click()
    composer = workspace.locator("[data-testid=composer]")
    composer.fill("可以的，下单时填写抬头")
    composer.press("Enter")
    workspace.click("[data-testid=resolve]")
    ended = buyer.locator(".line", has_text="本次会话已结束")
    expect(ended).to_have_count(1)

    # A reload after the resolve still shows the chat that ended.
    buyer.reload()
    buyer.wait_for_selector('#conn-dot[data-state="open"]')
    expect(buyer.locator("[data-testid=message-text]")).to_have_text(["能开发票吗？", "可以的，下单时填写抬头"])
    expect(ended).to_have_count(1)
    expect(buyer.locator("[data-testid=older]")).to_be_hidden()

    # Writing again soon after continues it: the agent's thread reopens with the message.
    buyer_send(buyer, "好的，谢谢")
    expect(ended).to_have_count(0)
    expect(workspace.locator("[data-testid=thread-status]")).to_have_text("进行中")
    expect(workspace.locator("#messages [data-testid=message-text]").last).to_have_text("好的，谢谢")
    expect(workspace.locator("#messages .line").last).to_have_text("买家在结束后不久再次来信，会话继续")
    (conversation,) = live.helper("conversations", slug=slug)

    # Resolved, and back much later: a new conversation. A reload shows it; the earlier chat
    # is one click away, above it, in place.
    workspace.click("[data-testid=resolve]")
    expect(ended).to_have_count(1)
    live.helper("age_resolve", conversation_id=conversation["id"])
    buyer_send(buyer, "上次的发票开好了吗？")
    wait_acked(buyer)
    assert len(live.helper("conversations", slug=slug)) == 2
    buyer.reload()
    buyer.wait_for_selector('#conn-dot[data-state="open"]')
    expect(buyer.locator("[data-testid=message-text]")).to_have_text(["上次的发票开好了吗？"])
    older = buyer.locator("[data-testid=older]")
    expect(older).to_have_text("查看更早的消息")
    older.click()
    expect(buyer.locator("[data-testid=message-text]")).to_have_text(
        ["能开发票吗？", "可以的，下单时填写抬头", "好的，谢谢", "上次的发票开好了吗？"]
    )
    expect(ended).to_have_count(1)
    expect(older).to_be_hidden()
    # Writing on goes to the current conversation, not the earlier one shown above it.
    buyer_send(buyer, "订单号是 TB123")
    wait_acked(buyer)
    current = max(live.helper("conversations", slug=slug), key=lambda c: c["id"])
    assert [m["text"] for m in live.helper("messages", conversation_id=current["id"])] == ["上次的发票开好了吗？", "订单号是 TB123"]


def test_the_buyer_sees_one_ended_line_for_the_resolve_that_stands(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "发票怎么开？")
    wait_acked(buyer)
    workspace = browser.agent_page(agent)
    workspace.locator("[data-testid=conversation]", has_text="发票怎么开？").click()
    status = workspace.locator("[data-testid=thread-status]")
    ended = buyer.locator(".line", has_text="本次会话已结束")

    def resolve():
        workspace.click("[data-testid=resolve]")
        expect(status).to_have_text("已解决")

    def reopen():
        workspace.click("[data-testid=reopen]")
        expect(status).to_have_text("进行中")

    # Resolved, reopened, resolved again: it ended once, at the last resolve.
    resolve()
    expect(ended).to_have_count(1)
    reopen()
    expect(ended).to_have_count(0)
    resolve()
    expect(ended).to_have_count(1)
    expect(buyer.locator("#messages > .line").last).to_have_text("本次会话已结束，有问题可随时再次留言。")

    # Reopened, the conversation goes on, also after a reload (its history from seq 0).
    reopen()
    expect(ended).to_have_count(0)
    buyer.reload()
    buyer.wait_for_selector('#conn-dot[data-state="open"]')
    expect(buyer.locator("[data-testid=message-text]")).to_have_text(["发票怎么开？"])
    expect(ended).to_have_count(0)

    # Changes missed while offline come by resync, in one batch: one line for the last resolve.
    buyer.evaluate("window.dxeSocket.drop(5000)")
    expect(buyer.locator("#conn-dot")).to_have_attribute("data-state", "offline")
    resolve()
    reopen()
    resolve()
    expect(buyer.locator("#conn-dot")).to_have_attribute("data-state", "offline", timeout=100)
    expect(buyer.locator("#conn-dot")).to_have_attribute("data-state", "open", timeout=8000)
    expect(ended).to_have_count(1)
    buyer.evaluate("window.dxeSocket.drop(500)")
    expect(buyer.locator("#conn-dot")).to_have_attribute("data-state", "open", timeout=8000)
    expect(ended).to_have_count(1)


NO_BROKEN_IMAGES = "() => [...document.querySelectorAll('#messages img')].every((i) => !i.complete || i.naturalWidth > 0)"


def test_a_buyer_image_refused_for_good_says_why_and_is_removed_not_retried(live, browser, tmp_path):
    """Not an image, a fake PNG, too large: sending again would be refused again."""
    seed = live.helper("seed", agents=["小美"])
    slug = seed["shop"]["slug"]
    buyer = buyer_page(browser, slug)
    text = tmp_path / "尺码表.txt"
    text.write_text("S M L XL")
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    large = png_file(tmp_path, "large.png")
    with large.open("ab") as padded:  # still shows: a browser reads a PNG up to its end chunk
        padded.write(b"\0" * (5 * 1024 * 1024))

    for path in (text, fake, large):
        buyer.set_input_files("[data-testid=image-input]", str(path))
    refused = buyer.locator("[data-testid=send-refused]")
    expect(refused).to_contain_text(["发送失败 · 文件不是有效的图片。", "发送失败 · 文件不是有效的图片。", "发送失败 · 图片 6 MB，超过 5 MB 上限。"])
    expect(buyer.locator(".msg-state.is-failed")).to_have_count(0)  # no retry offered
    expect(buyer.locator("[data-testid=message-file]")).to_have_text(["尺码表.txt", "fake.png"])
    expect(buyer.locator("[data-testid=message-image]")).to_have_count(1)
    buyer.wait_for_function(NO_BROKEN_IMAGES)
    shot(buyer, "buyer-images-refused")

    for _ in range(3):
        buyer.locator("[data-testid=dismiss]").first.click()
    expect(buyer.locator("#messages [data-testid=message]")).to_have_count(0)
    assert live.helper("conversations", slug=slug) == []


def test_a_buyer_image_that_failed_on_the_way_is_retried(live, browser, tmp_path):
    seed = live.helper("seed", agents=["小美"])
    slug = seed["shop"]["slug"]
    buyer = buyer_page(browser, slug)
    buyer.route("**/upload/", lambda route: route.fulfill(status=503, json={"error": {"code": "internal", "message": "稍后再试"}}))
    buyer.set_input_files("[data-testid=image-input]", str(png_file(tmp_path, "ok.png")))
    retry = buyer.locator(".msg-state.is-failed")
    expect(retry).to_have_text("发送失败，点击重试 · 稍后再试")
    expect(buyer.locator("[data-testid=dismiss]")).to_have_count(0)

    buyer.unroute("**/upload/")
    retry.click()
    wait_acked(buyer)
    expect(retry).to_have_count(0)
    (conversation,) = live.helper("conversations", slug=slug)
    assert [m["images"] for m in live.helper("messages", conversation_id=conversation["id"])] == [1]
