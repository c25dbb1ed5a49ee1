"""Two agents on one buyer: each sees the other viewing and replying, the first reply takes
the conversation, and an assignment made on a stale screen is refused, not overruling."""
import pytest
from playwright.sync_api import expect

from .conftest import shot

pytestmark = pytest.mark.browser


def row_of(page, conversation_id: int):
    return page.locator(f'[data-testid=conversation][data-id="{conversation_id}"]')


def test_agents_see_each_other_and_the_first_reply_takes_the_buyer(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug, mei, qiang = seed["shop"]["slug"], seed["agents"][0], seed["agents"][1]
    sent = live.helper("buyer_message", slug=slug, buyer_id="tb-collide", nickname="急性子", text="在吗？快点")
    first, second = browser.agent_page(mei), browser.agent_page(qiang)
    for page in (first, second):
        row_of(page, sent["conversation_id"]).click()
        expect(page.locator("[data-testid=thread-name]")).to_have_text("急性子")
    expect(first.locator("[data-testid=thread-peers]")).to_have_text("阿强 也在查看此会话")
    expect(second.locator("[data-testid=thread-peers]")).to_have_text("小美 也在查看此会话")

    first.locator("[data-testid=composer]").press_sequentially("您好，我来")
    typing = second.locator("[data-testid=thread-peers] .peer-typing")
    expect(typing).to_have_text("小美 正在回复该买家…")
    shot(second, "workspace-collision")
    first.locator("[data-testid=composer]").press("Enter")

    # The reply took the conversation: the other screen says so, and the marker is back to viewing.
    expect(second.locator("[data-testid=messages]")).to_contain_text("小美 回复并接待了此会话")
    expect(typing).to_have_count(0)
    expect(second.locator("[data-testid=thread-peers]")).to_have_text("小美 也在查看此会话")
    expect(second.locator("[data-testid=assign-select] option:checked")).to_have_text("● 小美")

    # 阿强's socket is away while 小美 hands the buyer back to the queue: his screen still says
    # 小美, so his "assign to me" is refused and his screen catches up instead.
    second.evaluate("dxeSocket.drop(60000)")
    expect(second.locator("#conn")).not_to_have_attribute("data-state", "open")
    first.select_option("[data-testid=assign-select]", "")
    expect(first.locator("[data-testid=messages]")).to_contain_text("小美 取消了会话分配")
    second.locator("[data-testid=assign-me]").click()
    expect(second.locator(".toast")).to_contain_text("此会话刚被他人取消分配，未做更改。")
    expect(second.locator("[data-testid=assign-select]")).to_have_value("")
    assert live.helper("conversations", slug=slug)[0]["assignee_id"] is None

    # Seen as it is now, the same click works.
    second.locator("[data-testid=assign-me]").click()
    expect(second.locator("[data-testid=assign-me]")).to_be_hidden()
    assert live.helper("conversations", slug=slug)[0]["assignee_id"] == qiang["id"]

    # 小美 leaves the conversation: 阿强 no longer sees her on it.
    second.evaluate("dxeSocket.holdUntil = 0; dxeSocket.reconnectNow()")
    expect(second.locator("#conn")).to_have_attribute("data-state", "open")
    expect(second.locator("[data-testid=thread-peers]")).to_have_text("小美 也在查看此会话")
    first.close(run_before_unload=True)
    expect(second.locator("[data-testid=thread-peers]")).to_be_hidden()
