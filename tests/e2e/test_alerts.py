"""New-chat alerts in the workspace: a chime and, while the page is hidden, a desktop notification.

Chromium plays no sound and shows no notification here, so the page gets stand-ins first
(``add_init_script``): an AudioContext that records the notes it starts, a Notification that
records what it shows, and a document whose visibility (and focus, which goes with it) the
test sets. Tabs of one browser share one context: storage and Web Locks.
"""
import time

import pytest
from playwright.sync_api import expect

from .conftest import shot
from .test_live_chat import wait_acked
from .test_workspace import row_of

pytestmark = pytest.mark.browser

STAND_INS = """
(() => {
  const log = (window.__alerts = { tones: [], notes: [], asked: 0, focused: 0 });
  class FakeAudioContext {
    constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
    resume() { return Promise.resolve(); }
    createGain() {
      return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect() {} };
    }
    createOscillator() {
      const osc = { type: "", frequency: { value: 0 }, connect() {}, stop() {}, start() { log.tones.push(osc.frequency.value); } };
      return osc;
    }
  }
  window.AudioContext = FakeAudioContext;
  class FakeNotification {
    constructor(title, options) { this.title = title; this.options = options; log.notes.push(this); }
    close() { this.closed = true; }
  }
  FakeNotification.permission = "PERMISSION";
  FakeNotification.requestPermission = () => {
    log.asked += 1;
    FakeNotification.permission = "ANSWER";
    return Promise.resolve(FakeNotification.permission);
  };
  window.Notification = FakeNotification;
  window.focus = () => { log.focused += 1; };
  window.__hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get: () => (window.__hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => window.__hidden });
  Document.prototype.hasFocus = () => !window.__hidden;
})();
"""

# A browser that keeps no storage for the page and has no Web Locks (an insecure origin).
NO_STORAGE_NOR_LOCKS = """
Object.defineProperty(window, "localStorage", { configurable: true, get() { throw new DOMException("blocked", "SecurityError"); } });
Object.defineProperty(Navigator.prototype, "locks", { configurable: true, get: () => undefined });
"""

# Long enough for every tab to have claimed an event, and past the one-chime-a-second gap.
SETTLE_MS = 1100


def alert_page(browser, agent: dict, *, permission: str = "default", answer: str = "granted", extra: str = ""):
    page = browser.page(session=agent["session"])
    return open_workspace(browser, page, permission=permission, answer=answer, extra=extra)


def another_tab(browser, page, *, permission: str = "default"):
    """A second workspace tab in the browser of ``page``."""
    tab = page.context.new_page()
    tab.set_default_timeout(10_000)
    tab.on("pageerror", lambda exc: browser.errors.append(f"{tab.url}: {exc}"))
    return open_workspace(browser, tab, permission=permission)


def open_workspace(browser, page, *, permission: str, answer: str = "granted", extra: str = ""):
    page.add_init_script(STAND_INS.replace("PERMISSION", permission).replace("ANSWER", answer) + extra)
    page.goto(browser.live.url("/inbox/"))
    page.wait_for_selector('#conn[data-state="open"]')
    return page


def chimes(page) -> int:
    tones = page.evaluate("__alerts.tones")
    assert len(tones) % 2 == 0, tones  # two notes a chime
    return len(tones) // 2


def wait_until(page, done) -> None:
    """Poll ``done()`` for up to 10 s from here, not by the page: the page's own timers may be
    held (``hold_clock``)."""
    deadline = time.monotonic() + 10
    while not done() and time.monotonic() < deadline:
        page.wait_for_timeout(50)


def wait_chimes(page, n: int) -> None:
    wait_until(page, lambda: chimes(page) >= n)
    assert chimes(page) == n


def wait_all_chimes(pages, n: int) -> None:
    """Wait for ``n`` chimes across ``pages``, then give the others their chance: still ``n``."""
    wait_until(pages[0], lambda: sum(chimes(page) for page in pages) >= n)
    pages[0].wait_for_timeout(SETTLE_MS)
    assert sum(chimes(page) for page in pages) == n, [chimes(page) for page in pages]


def notes(page) -> list[dict]:
    return page.evaluate("__alerts.notes.map(n => ({title: n.title, body: n.options.body, tag: n.options.tag}))")


def hold_clock(page) -> None:
    """Stop the browser's clock (installed by ``page.clock.install()``) where it is: timers
    fire only as the test moves it on (``run_for``)."""
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.01)  # in seconds


def set_hidden(page, hidden: bool) -> None:
    page.evaluate("h => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }", hidden)


def test_a_new_conversation_in_the_queue_chimes_and_notifies_while_hidden(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug = seed["shop"]["slug"]
    agent, colleague = seed["agents"]
    old = live.helper("buyer_message", slug=slug, buyer_id="tb-old", nickname="老买家", text="之前的问题")["conversation_id"]
    page = alert_page(browser, agent)
    expect(page.locator("[data-testid=sound-toggle]")).to_have_attribute("aria-pressed", "true")
    desktop = page.locator("[data-testid=desktop-toggle]")
    expect(desktop).to_have_attribute("aria-pressed", "false")
    desktop.click()  # asks the browser, which allows
    expect(desktop).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("__alerts.asked") == 1
    shot(page, "workspace-alert-toggles")
    set_hidden(page, True)

    # A conversation older than the page writing again is not a new one.
    live.helper("buyer_message", slug=slug, buyer_id="tb-old", text="还在吗")
    expect(row_of(page, old).locator(".conv-preview")).to_have_text("还在吗")
    assert chimes(page) == 0 and notes(page) == []

    new = live.helper("buyer_message", slug=slug, buyer_id="tb-new", nickname="新买家", text="有货吗？")["conversation_id"]
    wait_chimes(page, 1)
    assert notes(page) == [{"title": "新会话：新买家", "body": "有货吗？", "tag": f"dxe-conversation-{new}"}]

    # Its next message is not announced again.
    live.helper("buyer_message", slug=slug, buyer_id="tb-new", text="在吗")
    expect(row_of(page, new).locator(".conv-preview")).to_have_text("在吗")
    assert chimes(page) == 1 and len(notes(page)) == 1

    # One that started while this page was offline and went to a colleague is no news.
    page.evaluate("dxeSocket.drop(2000)")
    expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")
    taken = live.helper("buyer_message", slug=slug, buyer_id="tb-taken", nickname="被接走的买家", text="我先问问")["conversation_id"]
    live.helper("assign", conversation_id=taken, agent_id=colleague["id"])
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=8000)
    live.helper("buyer_message", slug=slug, buyer_id="tb-taken", text="还是我")
    expect(row_of(page, taken).locator(".conv-preview")).to_have_text("还是我")
    assert chimes(page) == 1 and len(notes(page)) == 1

    # A click on the notification focuses the window and opens the conversation.
    set_hidden(page, False)
    page.evaluate("__alerts.notes[0].onclick()")
    expect(page.locator("[data-testid=conversation].is-active")).to_have_attribute("data-id", str(new))
    expect(page.locator("[data-testid=thread-name]")).to_have_text("新买家")
    assert page.evaluate("[__alerts.focused, __alerts.notes[0].closed]") == [1, True]


def test_a_buyer_message_in_my_conversation_alerts_unless_i_am_looking_at_it(live, browser):
    seed = live.helper("seed", agents=["小美", "阿强"])
    slug = seed["shop"]["slug"]
    agent, colleague = seed["agents"]
    ids = {}
    for buyer, owner in (("a", agent), ("b", agent), ("c", colleague)):
        ids[buyer] = live.helper("buyer_message", slug=slug, buyer_id=f"tb-{buyer}", nickname=f"买家{buyer.upper()}", text="你好")["conversation_id"]
        live.helper("assign", conversation_id=ids[buyer], agent_id=owner["id"])
    page = alert_page(browser, agent, permission="granted")
    desktop = page.locator("[data-testid=desktop-toggle]")
    desktop.click()  # allowed already: nothing to ask
    expect(desktop).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("__alerts.asked") == 0
    row_of(page, ids["c"]).click()  # watched from now on: its events come in full
    row_of(page, ids["a"]).click()
    texts = page.locator("#messages [data-testid=message-text]")

    # The buyer I am looking at writes, I reply: no alert.
    live.helper("buyer_message", slug=slug, buyer_id="tb-a", text="看着呢")
    composer = page.locator("[data-testid=composer]")
    composer.fill("好的，马上")
    composer.press("Enter")
    wait_acked(page)
    expect(texts).to_have_text(["你好", "看着呢", "好的，马上"])
    # A buyer in a colleague's conversation writes: not mine.
    live.helper("buyer_message", slug=slug, buyer_id="tb-c", text="我的也看看")
    expect(row_of(page, ids["c"]).locator(".conv-preview")).to_have_text("我的也看看")
    assert chimes(page) == 0 and notes(page) == []

    # Mine, not the one open: a chime, and no desktop notification while the page shows.
    live.helper("buyer_message", slug=slug, buyer_id="tb-b", text="B 又来了")
    wait_chimes(page, 1)
    assert notes(page) == []

    # Hidden: agents' messages in my other conversation (mine from another tab, a
    # colleague's, notes) stay quiet; a buyer's alert, on the desktop too, even the open one.
    set_hidden(page, True)
    page.wait_for_timeout(1100)  # one chime a second at most
    live.helper("agent_message", conversation_id=ids["b"], agent_id=agent["id"], text="我在另一个标签页的回复")
    live.helper("agent_message", conversation_id=ids["b"], agent_id=colleague["id"], text="同事的回复")
    live.helper("agent_message", conversation_id=ids["b"], agent_id=colleague["id"], text="同事的备注", private=True)
    live.helper("agent_message", conversation_id=ids["b"], agent_id=agent["id"], text="我的备注", private=True)
    live.helper("buyer_message", slug=slug, buyer_id="tb-a", text="人呢？")
    page.wait_for_function("__alerts.notes.length >= 1")
    live.helper("buyer_message", slug=slug, buyer_id="tb-b", text="B 等着呢")
    page.wait_for_function("__alerts.notes.length >= 2")
    assert notes(page) == [
        {"title": "买家A", "body": "人呢？", "tag": f"dxe-conversation-{ids['a']}"},
        {"title": "买家B", "body": "B 等着呢", "tag": f"dxe-conversation-{ids['b']}"},
    ]
    assert chimes(page) >= 2  # B's may come within A's second
    set_hidden(page, False)
    page.evaluate("__alerts.notes[1].onclick()")
    expect(page.locator("[data-testid=thread-name]")).to_have_text("买家B")

    # The choice to show desktop notifications outlives the page.
    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    expect(desktop).to_have_attribute("aria-pressed", "true")


def test_alert_choices_persist_and_a_refusal_keeps_notifications_off(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    page = alert_page(browser, agent, answer="denied")
    sound, desktop = page.locator("[data-testid=sound-toggle]"), page.locator("[data-testid=desktop-toggle]")

    desktop.click()
    expect(page.locator(".toast")).to_contain_text("桌面通知已被浏览器阻止")
    expect(desktop).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("__alerts.asked") == 1
    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "false")
    page.reload()
    page.wait_for_selector('#conn[data-state="open"]')
    expect(sound).to_have_attribute("aria-pressed", "false")

    # Sound off: silence. Sound on again: new conversations chime, whichever list is shown.
    set_hidden(page, True)
    first = live.helper("buyer_message", slug=slug, buyer_id="tb-1", text="第一位")["conversation_id"]
    expect(row_of(page, first)).to_be_visible()
    assert chimes(page) == 0
    page.click(".tab[data-view=mine]")
    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "true")
    live.helper("buyer_message", slug=slug, buyer_id="tb-2", text="第二位")
    wait_chimes(page, 1)
    expect(page.locator("[data-testid=conversation]")).to_have_count(0)  # not on this list
    assert notes(page) == []


def test_the_tabs_of_one_browser_alert_once_the_one_looked_at_first(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    mine = live.helper("buyer_message", slug=slug, buyer_id="tb-mine", nickname="老客", text="你好")["conversation_id"]
    live.helper("assign", conversation_id=mine, agent_id=agent["id"])
    first = alert_page(browser, agent, permission="granted")
    first.locator("[data-testid=desktop-toggle]").click()  # also the gesture that lets it sound
    second = another_tab(browser, first, permission="granted")
    tabs = [first, second]
    expect(second.locator("[data-testid=desktop-toggle]")).to_have_attribute("aria-pressed", "true")

    # A choice made in one tab holds in the others, whichever says the next alert.
    sound = second.locator("[data-testid=sound-toggle]")
    sound.click()
    expect(first.locator("[data-testid=sound-toggle]")).to_have_attribute("aria-pressed", "false")
    sound.click()
    expect(first.locator("[data-testid=sound-toggle]")).to_have_attribute("aria-pressed", "true")

    # Both hidden: one of them chimes for a new conversation, and one notification shows.
    for tab in tabs:
        set_hidden(tab, True)
    new = live.helper("buyer_message", slug=slug, buyer_id="tb-new", nickname="新买家", text="有货吗？")["conversation_id"]
    for tab in tabs:
        expect(row_of(tab, new)).to_be_visible()
    wait_all_chimes(tabs, 1)
    assert [note["tag"] for note in notes(first) + notes(second)] == [f"dxe-conversation-{new}"]

    # The tab the agent looks at says it, on its own: no notification, it shows.
    set_hidden(second, False)
    before = [chimes(tab) for tab in tabs]
    live.helper("buyer_message", slug=slug, buyer_id="tb-mine", text="在吗")
    wait_all_chimes(tabs, 2)
    assert [chimes(tab) for tab in tabs] == [before[0], before[1] + 1]
    assert len(notes(first) + notes(second)) == 1

    # A buyer the agent is looking at in one tab alerts in none.
    row_of(second, mine).click()
    live.helper("buyer_message", slug=slug, buyer_id="tb-mine", text="看到了吗")
    expect(second.locator("#messages [data-testid=message-text]").last).to_have_text("看到了吗")
    wait_all_chimes(tabs, 2)

    # The tab that said the last alert closes: the one left says the next.
    second.close()
    before = chimes(first)
    live.helper("buyer_message", slug=slug, buyer_id="tb-mine", text="人呢？")
    wait_chimes(first, before + 1)
    assert notes(first)[-1] == {"title": "老客", "body": "人呢？", "tag": f"dxe-conversation-{mine}"}


def test_without_storage_or_web_locks_a_tab_still_alerts(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    page = alert_page(browser, agent, permission="granted", extra=NO_STORAGE_NOR_LOCKS)
    assert page.evaluate("navigator.locks") is None
    desktop = page.locator("[data-testid=desktop-toggle]")
    desktop.click()  # kept for this page only
    expect(desktop).to_have_attribute("aria-pressed", "true")
    set_hidden(page, True)
    new = live.helper("buyer_message", slug=slug, buyer_id="tb-new", nickname="新买家", text="有货吗？")["conversation_id"]
    wait_chimes(page, 1)
    assert [(note["title"], note["tag"]) for note in notes(page)] == [("新会话：新买家", f"dxe-conversation-{new}")]


def test_one_chime_for_a_burst_whichever_tabs_say_its_alerts(live, browser):
    seed = live.helper("seed", agents=["小美"])
    slug, agent = seed["shop"]["slug"], seed["agents"][0]
    first = alert_page(browser, agent, permission="granted")
    first.locator("[data-testid=desktop-toggle]").click()  # also the gesture that lets it sound
    second = another_tab(browser, first, permission="granted")
    tabs = [first, second]
    sound = second.locator("[data-testid=sound-toggle]")
    sound.click()  # off and on again: the gesture that lets this one sound too
    sound.click()
    expect(first.locator("[data-testid=sound-toggle]")).to_have_attribute("aria-pressed", "true")

    # The agent looks at one tab as a conversation comes, then at the other as the next comes
    # within the second: each tab says one, and one chime sounds. "Within the second" on the
    # browser's clock (every tab's timers and Date), which the test holds still and moves on
    # itself, however slow this machine is.
    first.clock.install()
    hold_clock(first)
    set_hidden(second, True)
    one = live.helper("buyer_message", slug=slug, buyer_id="tb-1", nickname="买家1", text="在吗")["conversation_id"]
    for tab in tabs:  # a row with its first message: the tab's claim of the alert is due
        expect(row_of(tab, one)).to_contain_text("在吗")
    first.clock.run_for(100)  # the tab looked at claims at once, the others a step later
    wait_chimes(first, 1)
    set_hidden(first, True)
    set_hidden(second, False)
    two = live.helper("buyer_message", slug=slug, buyer_id="tb-2", nickname="买家2", text="在吗")["conversation_id"]
    for tab in tabs:
        expect(row_of(tab, two)).to_contain_text("在吗")
    # Each tab runs its own timers: the one looked at must have claimed before the other's
    # turn comes, so the clock moves on in two steps.
    first.clock.run_for(50)
    said = f"localStorage.getItem('dxe.alerts.said.new-{two}')"
    wait_until(second, lambda: second.evaluate(said) is not None)
    first.clock.run_for(250)  # 400 ms after the chime: every claim of both is done
    wait_all_chimes(tabs, 1)

    # Both hidden: a later burst chimes once more, and each of its alerts still shows on the desktop.
    first.clock.run_for(1000)  # the chime's gap is over
    set_hidden(second, True)
    burst = [
        live.helper("buyer_message", slug=slug, buyer_id=f"tb-{i}", nickname=f"买家{i}", text="有货吗？")["conversation_id"]
        for i in range(3, 6)
    ]
    for tab in tabs:
        for conversation in burst:
            expect(row_of(tab, conversation)).to_contain_text("有货吗？")
    first.clock.run_for(300)
    wait_until(first, lambda: len(notes(first) + notes(second)) >= len(burst))
    wait_all_chimes(tabs, 2)
    tags = sorted(note["tag"] for note in notes(first) + notes(second))
    assert tags == sorted(f"dxe-conversation-{conv}" for conv in burst)
