"""The buyer's 满意度 after a resolve: the survey on the chat page, the line in the agent's thread."""
import pytest
from playwright.sync_api import expect

from .conftest import shot
from .test_live_chat import buyer_page, buyer_send, pin, wait_acked

pytestmark = pytest.mark.browser


def test_the_buyer_rates_the_ended_chat_and_the_agent_sees_it_live(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "衣服收到了，颜色和图片有点不一样")
    wait_acked(buyer)
    workspace = browser.agent_page(agent)
    row = pin(workspace, workspace.locator("[data-testid=conversation]", has_text="颜色和图片"))
    row.click()
    composer = workspace.locator("[data-testid=composer]")
    composer.fill("亲，实物会比图片稍深一点，不满意可以七天无理由退换")
    composer.press("Enter")
    wait_acked(workspace)

    # No survey while the chat goes on; the resolve brings it, right after the ended line.
    card = buyer.locator("[data-testid=rating-card]")
    expect(card).to_have_count(0)
    workspace.click("[data-testid=resolve]")
    expect(card).to_be_visible()
    expect(buyer.locator("#messages > *").nth(-2)).to_have_text("本次会话已结束，有问题可随时再次留言。")
    expect(card.locator("legend")).to_have_text("请对本次服务进行评价")
    expect(card.locator(".rating-choice")).to_have_text(["非常满意", "满意", "一般", "不满意", "非常不满意"])

    # Submitting needs an answer; the answers are radios, chosen with the keyboard too.
    submit = card.get_by_role("button", name="提交")
    submit.click()
    expect(card.locator("[data-testid=rating-error]")).to_have_text("请先选择一项评价。")
    card.get_by_role("radio", name="非常满意").focus()
    buyer.keyboard.press("ArrowRight")
    expect(card.get_by_role("radio", name="满意", exact=True)).to_be_checked()
    expect(card.locator("[data-testid=rating-error]")).to_have_text("")
    card.get_by_label("还有什么想对我们说的？（选填）").fill("客服很耐心")
    shot(buyer, "buyer-rating")
    submit.press("Enter")

    # The buyer is thanked instead; the agent's thread and list row show it live.
    thanks = buyer.locator("[data-testid=rating-thanks]")
    expect(thanks).to_have_text("感谢您的评价：满意")
    expect(card).to_have_count(0)
    expect(workspace.locator("#messages .line").last).to_have_text("买家评价：满意（“客服很耐心”）")
    expect(row.locator("[data-testid=rating-pill]")).to_have_text("满意")
    shot(workspace, "workspace-rating")
    (conversation,) = live.helper("conversations", slug=slug)
    assert conversation["rating"] == 4
    assert live.helper("ratings", conversation_id=conversation["id"]) == [
        {"score": 4, "comment": "客服很耐心", "assignee_id": agent["id"], "team_id": None}
    ]

    # A reload shows the thanks, not the survey: this session is rated.
    buyer.reload()
    buyer.wait_for_selector('#conn-dot[data-state="open"]')
    expect(thanks).to_have_text("感谢您的评价：满意")
    expect(card).to_have_count(0)
    workspace.reload()
    workspace.wait_for_selector('#conn[data-state="open"]')
    expect(workspace.locator("#messages .line").last).to_have_text("买家评价：满意（“客服很耐心”）")

    # Written again soon after, the chat goes on; resolved again, it is a new session to rate.
    buyer_send(buyer, "好的，谢谢")
    expect(workspace.locator("[data-testid=thread-status]")).to_have_text("进行中")
    workspace.click("[data-testid=resolve]")
    expect(card).to_be_visible()
    expect(thanks).to_have_count(1)  # the earlier session's, above


def test_the_survey_closes_a_day_after_the_resolve(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "请问包邮吗？")
    wait_acked(buyer)
    (conversation,) = live.helper("conversations", slug=slug)
    live.helper("resolve", conversation_id=conversation["id"], agent_id=agent["id"])
    card = buyer.locator("[data-testid=rating-card]")
    expect(card).to_be_visible()

    # Left open past the window, the survey still shows; the server refuses it, and says why.
    live.helper("close_rating_window", conversation_id=conversation["id"])
    card.locator(".rating-choice", has_text="一般").click()
    card.get_by_role("button", name="提交").click()
    expect(card.locator("[data-testid=rating-error]")).to_have_text("本次会话的评价时间已过。")
    expect(card.get_by_role("button", name="提交")).to_be_enabled()
    assert live.helper("ratings", conversation_id=conversation["id"]) == []

    # Loaded again, the page shows the ended chat without a survey.
    buyer.reload()
    buyer.wait_for_selector('#conn-dot[data-state="open"]')
    expect(buyer.locator(".line", has_text="本次会话已结束")).to_have_count(1)
    expect(card).to_have_count(0)


def test_a_survey_left_on_screen_goes_when_its_time_runs_out(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    buyer = buyer_page(browser, slug)
    buyer_send(buyer, "发什么快递？")
    wait_acked(buyer)
    buyer.clock.install()  # the page's own clock from here on, to move a day ahead
    (conversation,) = live.helper("conversations", slug=slug)
    live.helper("resolve", conversation_id=conversation["id"], agent_id=agent["id"])
    card = buyer.locator("[data-testid=rating-card]")
    expect(card).to_be_visible()
    buyer.clock.fast_forward("23:59:00")
    expect(card).to_be_visible()
    buyer.clock.fast_forward("01:01")
    expect(card).to_have_count(0)
    expect(buyer.locator(".line", has_text="本次会话已结束")).to_have_count(1)
