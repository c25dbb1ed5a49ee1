/* The agent workspace: conversation list, thread, buyer panel; live over /ws/agent/.
 *
 * What the socket brings (see docs/ARCHITECTURE.md, "Realtime"): full events only for the
 * conversations we follow (assigned to us, or watched: we watch every thread this tab holds,
 * at most MAX_THREADS), and coalesced `list.update` rows of the list we show (`list` frame).
 *
 * State rules (see docs/ARCHITECTURE.md, "Conversation history and seq"):
 * - Every conversation's history is one gapless seq sequence. For each conversation we keep
 *   `held`, the highest seq up to which we have applied every event. Events at or below it
 *   are duplicates and ignored (except message.delivery, which re-uses its message's seq).
 *   An event beyond held+1 is applied (messages are keyed by seq, so nothing doubles) and
 *   the hole is filled by a resync if it does not close by itself within a moment.
 * - List rows carry the conversation's last_seq: a row newer than a held thread means we
 *   missed its events, so the same gap check runs.
 * - On every (re)connect we watch our threads again, send resync with `held` of each, then
 *   resend unacknowledged frames with their original client_msg_id (the server answers a
 *   retry with the stored message), and refetch the first list page for conversations that
 *   changed while we were away.
 */
(function () {
  "use strict";
  const { h, fmt, uuid, timeLabel, duration, linkify } = window.DXE;
  const cfg = window.DXE.config();
  const S = cfg.strings;
  const me = cfg.user;
  const API = cfg.api;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

  const $ = (id) => document.getElementById(id);
  const els = {
    workspace: $("workspace"),
    list: $("conv-list"),
    search: $("search"),
    status: $("status-filter"),
    tabs: document.querySelectorAll(".list-tabs .tab"),
    thread: $("thread"),
    threadEmpty: $("thread-empty"),
    threadName: $("thread-name"),
    threadMeta: $("thread-meta"),
    threadAvatar: $("thread-avatar"),
    threadStatus: $("thread-status"),
    assign: $("assign-select"),
    assignMe: $("assign-me"),
    resolve: $("resolve-btn"),
    reopen: $("reopen-btn"),
    messages: $("messages"),
    newPill: $("new-pill"),
    custLastContact: $("cust-last-contact"),
    typing: $("typing-line"),
    peers: $("thread-peers"),
    composer: $("composer"),
    input: $("composer-input"),
    imageInput: $("image-input"),
    imagePick: $("image-pick-label"),
    conn: $("conn"),
    side: $("side-body"),
    sideEmpty: $("side-empty"),
    custName: $("cust-name"),
    custAvatar: $("cust-avatar"),
    custBuyerId: $("cust-buyer-id"),
    custPhone: $("cust-phone"),
    custRealName: $("cust-realname"),
    custVip: $("cust-vip"),
    custTags: $("cust-tags"),
    tagForm: $("tag-form"),
    tagInput: $("tag-input"),
    notes: $("cust-notes"),
    notesState: $("notes-state"),
    orders: $("cust-orders"),
    history: $("cust-history"),
    lightbox: $("lightbox"),
    lightboxImg: $("lightbox-img"),
    help: $("help"),
    helpBtn: $("help-btn"),
    soundToggle: $("sound-toggle"),
    desktopToggle: $("desktop-toggle"),
    toasts: $("toasts"),
  };

  const store = {
    get(key, fallback) {
      try {
        const v = localStorage.getItem(key);
        return v === null ? fallback : v;
      } catch (err) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        if (value === null || value === "") localStorage.removeItem(key);
        else localStorage.setItem(key, value);
      } catch (err) {
        /* private mode or full: memory still has it */
      }
    },
  };

  // Threads held (and watched) at once; the server follows at most 100 per socket.
  const MAX_THREADS = 100;

  const state = {
    view: store.get("dxe.view", "all"),
    status: store.get("dxe.status", "open"),
    q: "",
    convs: new Map(), // id -> conversation (the newest payload seen)
    listed: new Set(), // ids shown in the list under the current filter
    next: null,
    listLoading: false,
    listGen: 0,
    activeId: null,
    listFocus: null, // the row holding the list's Tab stop
    threads: new Map(), // id -> thread state
    seqs: new Map(), // id -> {held, seen: Set}
    outbox: new window.DXE.Outbox((frame) => socket.send(frame), (cmid) => upload(cmid)), // {convId, frame} | {convId, files}
    typing: new Map(), // conversation id -> {name, until}
    members: new Map(), // shop id -> Promise<[member]>
    drafts: new Map(),
    modes: new Map(),
    customer: null,
    hellos: 0,
    online: new Map(), // shop id -> Set of online agent ids (hello, presence frames)
  };
  const peers = new window.DXE.Peers(); // other agents viewing or typing in conversations

  // --- Small helpers --------------------------------------------------------------------

  function toast(text, kind) {
    const el = h("div", { class: `toast ${kind || ""}`, role: "status" }, text);
    els.toasts.append(el);
    window.setTimeout(() => el.classList.add("is-leaving"), 3600);
    window.setTimeout(() => el.remove(), 4000);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ method: "GET", headers: {} }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    opts.credentials = "same-origin";
    if (opts.method !== "GET") opts.headers["X-CSRFToken"] = csrfToken;
    if (opts.json !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    const url = /^https?:|^\//.test(path) ? path : API + path;
    let res;
    try {
      res = await fetch(url, opts);
    } catch (err) {
      throw new ApiError(0, S.offlineError); // the browser's own text is English ("Failed to fetch")
    }
    let body = null;
    const type = res.headers.get("Content-Type") || "";
    if (type.includes("json")) body = await res.json();
    // Signed out (here, elsewhere, or by a password change): the reload lands on the login page.
    const signedOut = res.status === 401 || (res.status === 403 && body && body.error && body.error.code === "not_authenticated");
    if (signedOut || (res.status === 403 && res.redirected)) window.location.reload();
    if (!res.ok) {
      const message = (body && body.error && body.error.message) || `${res.status} ${res.statusText}`;
      throw new ApiError(res.status, message);
    }
    return body;
  }

  const initial = (text) => (text || "?").trim().slice(0, 1).toUpperCase();
  /** A buyer's display name: the nickname, else "访客 1a2b3c" for anonymous web visitors. */
  function customerName(customer) {
    if (!customer) return "";
    if (customer.nickname) return customer.nickname;
    const id = customer.platform_buyer_id || "";
    return id.startsWith("visitor-") ? fmt(S.visitor, { id: id.slice(8, 14) }) : id;
  }
  const buyerName = (conv) => customerName(conv.customer) || `#${conv.id}`;
  const statusLabel = (status) => S[`status_${status}`] || status;
  const channelLabel = (channel) => (channel ? S[`channel_${channel.kind}`] || channel.name : "");

  /** A stable hue per buyer so avatars are tellable apart at a glance. */
  function avatarHue(seed) {
    let x = 0;
    for (const ch of String(seed)) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
    return x % 360;
  }
  function paintAvatar(el, name, seed) {
    el.textContent = initial(name);
    el.style.setProperty("--hue", avatarHue(seed));
  }

  // --- Seq bookkeeping ------------------------------------------------------------------

  function seqState(id) {
    let s = state.seqs.get(id);
    if (!s) {
      s = { held: 0, seen: new Set(), gapTimer: null };
      state.seqs.set(id, s);
    }
    return s;
  }

  /** True when the event is new (and records it); false for a duplicate. */
  function takeSeq(id, seq, known) {
    const s = seqState(id);
    if (!known && s.held === 0 && s.seen.size === 0) {
      // A conversation we never loaded: start tracking from here.
      s.held = seq;
      return true;
    }
    if (seq <= s.held || s.seen.has(seq)) return false;
    if (seq === s.held + 1) {
      s.held = seq;
      while (s.seen.has(s.held + 1)) {
        s.seen.delete(s.held + 1);
        s.held += 1;
      }
    } else {
      s.seen.add(seq);
      scheduleGapCheck(id);
    }
    return true;
  }

  function raiseHeld(id, seq) {
    const s = seqState(id);
    if (seq > s.held) s.held = seq;
    for (const x of Array.from(s.seen)) if (x <= s.held) s.seen.delete(x);
    while (s.seen.has(s.held + 1)) {
      s.seen.delete(s.held + 1);
      s.held += 1;
    }
  }

  function scheduleGapCheck(id) {
    const s = seqState(id);
    if (s.gapTimer) return;
    s.gapTimer = window.setTimeout(() => {
      s.gapTimer = null;
      const conv = state.convs.get(id);
      if (s.seen.size || (conv && conv.last_seq > s.held)) resync([id]);
    }, 1500);
  }

  /** Ask for missed history of these conversations (the server takes 100 per frame). */
  function resync(ids) {
    const list = Array.from(ids);
    for (let i = 0; i < list.length; i += 100) {
      const conversations = {};
      for (const id of list.slice(i, i + 100)) conversations[id] = seqState(id).held;
      socket.send({ type: "resync", conversations });
    }
  }

  // --- Conversations and the list -------------------------------------------------------

  function matchesFilter(conv) {
    if (state.view === "mine" && !(conv.assignee && conv.assignee.id === me.id)) return false;
    if (state.view === "unassigned" && conv.assignee) return false;
    if (state.status && conv.status !== state.status) return false;
    return true;
  }

  /** Store a conversation payload unless we already hold a newer one; returns the stored one. */
  function upsertConv(conv, source) {
    const current = state.convs.get(conv.id);
    if (current && current.last_seq > conv.last_seq) return current;
    state.convs.set(conv.id, conv);
    if (source === "rest" || source === "row") {
      const s = seqState(conv.id);
      if (!state.threads.has(conv.id)) raiseHeld(conv.id, conv.last_seq);
      else if (conv.last_seq > s.held) scheduleGapCheck(conv.id);
    }
    return conv;
  }

  function sortedListIds() {
    return Array.from(state.listed)
      .map((id) => state.convs.get(id))
      .filter(Boolean)
      .sort((a, b) => (a.last_message_at < b.last_message_at ? 1 : a.last_message_at > b.last_message_at ? -1 : b.id - a.id))
      .map((c) => c.id);
  }

  function rowFor(conv) {
    const typing = state.typing.get(conv.id);
    const waiting = conv.waiting_since && conv.status !== "resolved";
    const unread = conv.agent_unread_count || 0;
    const avatar = h("span", { class: "avatar", "aria-hidden": "true" });
    paintAvatar(avatar, buyerName(conv), conv.customer ? conv.customer.id : conv.id);
    const meta = [];
    if (waiting) {
      const ms = Date.now() - Date.parse(conv.waiting_since);
      meta.push(h("span", { class: waitClass(ms), dataset: { since: conv.waiting_since }, title: S.waiting }, duration(ms)));
    }
    if (conv.customer && conv.customer.vip_level) meta.push(h("span", { class: "pill pill-vip" }, fmt(S.vip, { level: conv.customer.vip_level })));
    meta.push(h("span", { class: "pill" }, channelLabel(conv.channel)));
    if (conv.status !== "open") meta.push(h("span", { class: `pill pill-${conv.status}` }, statusLabel(conv.status)));
    meta.push(h("span", { class: "conv-assignee" }, conv.assignee ? (conv.assignee.id === me.id ? S.me : conv.assignee.nickname) : S.unassigned));
    return h(
      "li",
      {
        class: `conv${conv.id === state.activeId ? " is-active" : ""}${unread ? " has-unread" : ""}`,
        role: "option",
        "aria-selected": conv.id === state.activeId ? "true" : "false",
        tabindex: "-1",
        dataset: { id: conv.id, testid: "conversation" },
        onclick: (e) => {
          selectConversation(conv.id);
          // A mouse click leaves no focus ring in the list: j/k then open the next one.
          if (e.detail && els.list.contains(document.activeElement)) document.activeElement.blur();
        },
      },
      avatar,
      h(
        "div",
        { class: "conv-main" },
        h("div", { class: "conv-top" }, h("span", { class: "conv-name" }, buyerName(conv)), h("span", { class: "conv-time" }, timeLabel(conv.last_message_at))),
        h(
          "div",
          { class: "conv-mid" },
          typing
            ? h("span", { class: "conv-preview is-typing" }, S.typing)
            : h("span", { class: "conv-preview" }, conv.last_message_preview || "\u00a0"),
          unread ? h("span", { class: "badge", dataset: { testid: "unread" } }, unread > 99 ? "99+" : unread) : null
        ),
        h("div", { class: "conv-meta" }, meta)
      )
    );
  }

  const rowEls = new Map();

  function rowSignature(conv) {
    const c = conv.customer || {};
    return JSON.stringify([
      conv.last_seq,
      conv.last_message_at,
      conv.last_message_preview,
      conv.agent_unread_count,
      conv.assignee && conv.assignee.id,
      conv.status,
      conv.waiting_since,
      c.nickname,
      c.vip_level,
      conv.id === state.activeId,
      state.typing.has(conv.id),
    ]);
  }

  function waitClass(ms) {
    return ms >= 100000 ? "wait is-late" : ms >= 60000 ? "wait is-warn" : "wait";
  }
  let sentinel = null;

  function renderList() {
    const ids = sortedListIds();
    const wanted = new Set(ids);
    const focusInList = els.list.contains(document.activeElement);
    if (state.listFocus !== null && !wanted.has(state.listFocus)) {
      // The focused row left the list: focus goes to the row that took its place.
      const before = Array.from(rowEls.keys());
      const at = before.indexOf(state.listFocus);
      state.listFocus = before.slice(at + 1).find((id) => wanted.has(id)) || null;
    }
    for (const [id, el] of rowEls) {
      if (!wanted.has(id)) {
        el.remove();
        rowEls.delete(id);
      }
    }
    let prev = null;
    for (const id of ids) {
      const conv = state.convs.get(id);
      // Rebuild a row only when what it shows changed (lists run to hundreds of rows).
      const sig = rowSignature(conv);
      let row = rowEls.get(id);
      if (!row || row._sig !== sig) {
        const fresh = rowFor(conv);
        fresh._sig = sig;
        if (row) row.replaceWith(fresh);
        row = fresh;
        rowEls.set(id, row);
      }
      const expectedNext = prev ? prev.nextSibling : els.list.firstChild;
      if (expectedNext !== row) els.list.insertBefore(row, expectedNext);
      prev = row;
    }
    if (!sentinel) sentinel = h("li", { class: "list-sentinel", "aria-hidden": "true" });
    sentinel.textContent = state.listLoading ? S.loading : ids.length ? "" : S.noConversations;
    if (els.list.lastChild !== sentinel) els.list.append(sentinel);
    const roving = rovingRow(ids);
    for (const [id, row] of rowEls) row.tabIndex = id === roving ? 0 : -1;
    // A rebuilt or removed row took the focus with it: give it back.
    if (focusInList && !els.list.contains(document.activeElement) && roving !== null) focusRow(roving);
    updateTitle();
  }

  // --- Keyboard in the list: one Tab stop (roving tabindex), as in WAI-ARIA's listbox ----

  /** The row that takes the list's Tab stop: the one last focused, else the open one, else the first. */
  function rovingRow(ids) {
    if (state.listFocus !== null && rowEls.has(state.listFocus)) return state.listFocus;
    if (state.activeId !== null && rowEls.has(state.activeId)) return state.activeId;
    return ids.length ? ids[0] : null;
  }

  function focusRow(id) {
    const row = rowEls.get(id);
    if (!row) return;
    state.listFocus = id;
    for (const [other, el] of rowEls) el.tabIndex = other === id ? 0 : -1;
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  /** Arrows, j/k, Home/End move the focus; Enter or Space opens the focused conversation. */
  function onListKey(e) {
    const row = e.target.closest(".conv");
    if (!row || e.ctrlKey || e.metaKey || e.altKey) return;
    const id = Number(row.dataset.id);
    const ids = sortedListIds();
    const at = ids.indexOf(id);
    let to;
    if (e.key === "ArrowDown" || e.key === "j") to = at + 1;
    else if (e.key === "ArrowUp" || e.key === "k") to = at - 1;
    else if (e.key === "Home") to = 0;
    else if (e.key === "End") to = ids.length - 1;
    else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      selectConversation(id);
      return;
    } else return;
    e.preventDefault();
    focusRow(ids[Math.min(ids.length - 1, Math.max(0, to))]);
    if (to >= ids.length - 3) loadList(false);
  }

  function updateTitle() {
    let unread = 0;
    for (const conv of state.convs.values()) if (state.listed.has(conv.id)) unread += conv.agent_unread_count || 0;
    document.title = (unread ? `(${unread}) ` : "") + document.title.replace(/^\(\d+\) /, "");
  }

  async function loadList(reset) {
    if (state.listLoading && !reset) return;
    if (!reset && !state.next) return;
    const gen = reset ? ++state.listGen : state.listGen;
    let url;
    if (reset) {
      const params = new URLSearchParams({ view: state.view, page_size: "30" });
      if (state.status) params.set("status", state.status);
      if (state.q) params.set("q", state.q);
      url = `conversations/?${params}`;
    } else {
      url = state.next;
    }
    state.listLoading = true;
    renderList();
    try {
      const page = await api(url);
      if (gen !== state.listGen) return;
      if (reset) state.listed.clear();
      for (const row of page.results) state.listed.add(upsertConv(row, "rest").id);
      state.next = page.next;
    } catch (err) {
      if (gen === state.listGen) {
        toast(S.loadFailed, "error");
        window.setTimeout(() => {
          if (gen === state.listGen) loadList(reset);
        }, 3000);
      }
    } finally {
      if (gen === state.listGen) state.listLoading = false;
      renderList();
      maybeLoadMore();
    }
  }

  /** Refetch the first page after a reconnect, keeping what is already listed. */
  async function refreshFirstPage() {
    const params = new URLSearchParams({ view: state.view, page_size: "30" });
    if (state.status) params.set("status", state.status);
    if (state.q) params.set("q", state.q);
    const gen = state.listGen;
    try {
      const page = await api(`conversations/?${params}`);
      if (gen !== state.listGen) return;
      for (const row of page.results) {
        const conv = upsertConv(row, "rest");
        if (matchesFilter(conv)) state.listed.add(conv.id);
      }
      if (state.next === null && page.next && state.listed.size <= page.results.length) state.next = page.next;
      renderList();
    } catch (err) {
      /* the next reconnect tries again */
    }
  }

  function maybeLoadMore() {
    if (!state.next || state.listLoading) return;
    const list = els.list;
    if (list.scrollTop + list.clientHeight >= list.scrollHeight - 160) loadList(false);
  }

  /** A conversation changed live: list it, move it, or drop it from the filtered list. */
  function convChanged(conv) {
    if (matchesFilter(conv) && !state.q) state.listed.add(conv.id);
    else if (state.q && state.listed.has(conv.id)) {
      /* a search result stays until the search changes */
    } else if (conv.id !== state.activeId) state.listed.delete(conv.id);
    renderList();
    if (conv.id === state.activeId) renderThreadHeader();
  }

  /** Tell the server which list we show: its rows come live (the others' churn does not). */
  function showList() {
    socket.send({ type: "list", view: state.view });
  }

  function setFilter(changes) {
    const viewChanged = "view" in changes && changes.view !== state.view;
    Object.assign(state, changes);
    if (viewChanged) showList();
    store.set("dxe.view", state.view);
    store.set("dxe.status", state.status === "" ? "all" : state.status);
    for (const tab of els.tabs) {
      const on = tab.dataset.view === state.view;
      tab.classList.toggle("is-active", on);
      tab.setAttribute("aria-selected", on ? "true" : "false");
    }
    state.next = null;
    loadList(true);
  }

  // --- Thread ---------------------------------------------------------------------------

  function thread(id) {
    let t = state.threads.get(id);
    if (!t) {
      t = { id, messages: new Map(), pending: new Map(), events: new Map(), loaded: false, loading: null, hasOlder: false, readSent: 0 };
      state.threads.set(id, t);
      forgetOldThreads();
      watchThreads();
    }
    return t;
  }

  /** Drop the oldest threads beyond MAX_THREADS (a dropped one reloads when opened again). */
  function forgetOldThreads() {
    for (const [id, t] of state.threads) {
      if (state.threads.size <= MAX_THREADS) break;
      if (id !== state.activeId && !t.pending.size) state.threads.delete(id);
    }
  }

  /** Follow every thread this tab holds: their events come in full, the rest as list rows. */
  function watchThreads() {
    socket.send({ type: "watch", conversation_ids: Array.from(state.threads.keys()) });
  }

  function addMessage(message) {
    const t = state.threads.get(message.conversation_id);
    if (!t) return;
    t.messages.set(message.seq, message);
    if (message.client_msg_id && t.pending.has(message.client_msg_id)) {
      const local = t.pending.get(message.client_msg_id);
      if (local.previewUrls) local.previewUrls.forEach((u) => URL.revokeObjectURL(u));
      t.pending.delete(message.client_msg_id);
    }
    if (message.client_msg_id) state.outbox.delete(message.client_msg_id);
  }

  async function loadThread(id) {
    const t = thread(id);
    if (t.loaded || t.loading) return t.loading;
    t.loading = (async () => {
      try {
        const page = await api(`conversations/${id}/messages/?limit=50`);
        for (const m of page.results) if (!t.messages.has(m.seq)) t.messages.set(m.seq, m);
        t.hasOlder = page.has_more;
        const first = page.results.length ? page.results[0].seq : 0;
        try {
          const events = await api(`conversations/${id}/events/?after_seq=${Math.max(0, first - 1)}`);
          for (const e of events.results) t.events.set(e.seq, e);
        } catch (err) {
          /* event lines are context only */
        }
        t.loaded = true;
        if (page.last_seq > seqState(id).held) resync([id]);
      } catch (err) {
        toast(S.loadFailed, "error");
      } finally {
        t.loading = null;
      }
    })();
    return t.loading;
  }

  async function loadOlder() {
    const t = state.threads.get(state.activeId);
    if (!t) return;
    const seqs = Array.from(t.messages.keys());
    const oldest = seqs.length ? Math.min(...seqs) : 0;
    const after = Math.max(0, oldest - 150);
    const before = els.messages.scrollHeight - els.messages.scrollTop;
    try {
      const page = await api(`conversations/${t.id}/messages/?after_seq=${after}&limit=200`);
      for (const m of page.results) if (!t.messages.has(m.seq)) t.messages.set(m.seq, m);
      t.hasOlder = after > 0;
      const events = await api(`conversations/${t.id}/events/?after_seq=${after}`);
      for (const e of events.results) if (e.seq < oldest) t.events.set(e.seq, e);
    } catch (err) {
      toast(S.loadFailed, "error");
    }
    renderThread({ keepOffset: before });
  }

  function memberName(shopId, userId) {
    if (userId === null || userId === undefined) return S.unassigned;
    if (userId === me.id) return me.nickname;
    const list = state.membersResolved && state.membersResolved.get(shopId);
    const found = list && list.find((m) => m.id === userId);
    return found ? found.nickname : `#${userId}`;
  }

  function eventLine(conv, e) {
    const actor = e.actor ? e.actor.nickname : null;
    const data = e.data || {};
    if (e.kind === "assigned") {
      const name = conv.assignee && conv.assignee.id === data.to ? conv.assignee.nickname : memberName(conv.shop_id, data.to);
      if (!data.to) return actor ? fmt(S.unassignedBy, { actor }) : S.unassignedLine;
      if (data.by_reply && actor) return fmt(S.tookByReply, { actor });
      if (e.actor && e.actor.id === data.to) return fmt(S.took, { actor });
      return actor ? fmt(S.assignedTo, { actor, name }) : fmt(S.assignedToLine, { name });
    }
    if (e.kind === "status") {
      const status = statusLabel(data.to);
      return actor ? fmt(S.statusChanged, { actor, status }) : fmt(S.statusChangedLine, { status });
    }
    if (e.kind === "created") return S.created;
    return null; // read receipts show on the messages, not as lines
  }

  function imageEls(attachments, extraQuery) {
    if (!attachments || !attachments.length) return null;
    return h(
      "div",
      { class: "msg-images" },
      attachments.map((a) => {
        const src = a.url + (extraQuery || "");
        const ratio = a.width && a.height ? `${a.width} / ${a.height}` : null;
        return h(
          "button",
          { type: "button", class: "msg-image", title: S.openImage, onclick: () => openLightbox(src) },
          h("img", { src, alt: S.image, loading: "lazy", style: ratio ? `aspect-ratio: ${ratio}` : null, dataset: { testid: "message-image" } })
        );
      })
    );
  }

  /** Why a platform delivery failed, in the agent's language: the words come from the
   * server-rendered config by the message's stable code, its detail (e.g. "HTTP 404") after. */
  function deliveryReason(m) {
    const reasons = cfg.deliveryReasons;
    const reason = reasons[m.delivery_error_code] || reasons.other;
    return m.delivery_error_detail ? fmt(S.deliveryReasonDetail, { reason, detail: m.delivery_error_detail }) : reason;
  }

  function deliveryFailure(m) {
    return h(
      "span",
      { class: "msg-state delivery-failed" },
      h("span", { dataset: { testid: "delivery-failed" } }, fmt(S.deliveryFailedLine, { reason: deliveryReason(m) })),
      " ",
      h(
        "button",
        {
          type: "button",
          class: "link",
          disabled: Boolean(m._retrying),
          dataset: { testid: "delivery-retry" },
          onclick: () => retryDelivery(m.conversation_id, m.seq),
        },
        m._retrying ? S.deliveryRetrying : S.retry
      )
    );
  }

  /** Ask the server to deliver a failed platform reply again. Every tab, this one included,
   * learns the new state from message.delivery events, which replace the message object; the
   * answer is applied only when no event came first (it would be older than that event). */
  async function retryDelivery(convId, seq) {
    const t = state.threads.get(convId);
    const m = t && t.messages.get(seq);
    if (!m || m._retrying) return;
    m._retrying = true;
    if (convId === state.activeId) renderThread();
    try {
      const message = await api(`messages/${m.id}/retry/`, { method: "POST", json: {} });
      if (t.messages.get(seq) === m) t.messages.set(seq, message);
    } catch (err) {
      m._retrying = false;
      toast(err.message, "error");
    }
    if (convId === state.activeId) renderThread();
  }

  function messageStatus(conv, m) {
    if (m._failed) {
      return h(
        "span",
        { class: "msg-state is-failed" },
        `${S.failed}${m._error ? `: ${m._error}` : ""} `,
        h("button", { type: "button", class: "link", onclick: () => retrySend(m) }, S.retry)
      );
    }
    if (m._pending) return h("span", { class: "msg-state is-pending", dataset: { testid: "pending" } }, S.pending);
    if (m.sender_kind !== "agent" && m.sender_kind !== "bot") return null;
    if (m.is_private) return null;
    if (conv.channel && conv.channel.kind === "platform_api") {
      if (m.delivery_state === "failed") return deliveryFailure(m);
      const label = { pending: S.deliveryPending, sent: S.deliverySent }[m.delivery_state];
      if (!label) return null;
      return h("span", { class: `msg-state delivery-${m.delivery_state}` }, label);
    }
    const read = m.seq <= (conv.buyer_last_read_seq || 0);
    return h("span", { class: `msg-state ${read ? "is-read" : "is-unread"}`, dataset: { testid: "read-state" } }, read ? S.read : S.unread);
  }

  function messageEl(conv, m) {
    const kind = m.is_private ? "note" : m.sender_kind;
    const mine = m.sender_kind === "agent" || m.sender_kind === "bot";
    if (m.sender_kind === "system") {
      return h("div", { class: "line line-system", dataset: { seq: m.seq } }, m.text);
    }
    const who = m.is_private
      ? `${S.note} · ${m.author ? m.author.nickname : ""}`
      : m.sender_kind === "bot"
        ? S.bot
        : m.sender_kind === "agent"
          ? m.author
            ? m.author.nickname
            : ""
          : buyerName(conv);
    return h(
      "div",
      {
        class: `msg msg-${kind}${mine ? " is-out" : " is-in"}${m._pending ? " is-pending" : ""}${m._failed ? " is-failed" : ""}`,
        dataset: { seq: m.seq || "", cmid: m.client_msg_id || "", testid: m.is_private ? "note" : "message", sender: m.sender_kind },
      },
      h("div", { class: "msg-head" }, h("span", { class: "msg-who" }, who), h("time", { class: "msg-time", datetime: m.created_at }, timeLabel(m.created_at))),
      h(
        "div",
        { class: "msg-bubble" },
        m.text ? h("div", { class: "msg-text", dataset: { testid: "message-text" } }, linkify(m.text)) : null,
        imageEls(m.attachments)
      ),
      h("div", { class: "msg-foot" }, messageStatus(conv, m))
    );
  }

  function nearBottom() {
    const box = els.messages;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  // Thread nodes are reused while what they show is unchanged, so a live update never
  // resets a text selection, reloads an image or jumps the scroll position.
  const threadNodes = new Map(); // key -> element (with _sig)
  let threadNodesFor = null;

  function reuse(key, sig, make) {
    const old = threadNodes.get(key);
    if (old && old._sig === sig) return old;
    const el = make();
    el._sig = sig;
    threadNodes.set(key, el);
    return el;
  }

  function messageSignature(conv, m) {
    return JSON.stringify([
      m.seq,
      m.text,
      (m.attachments || []).map((a) => a.url),
      m.delivery_state,
      m.delivery_error_code,
      m.delivery_error_detail,
      m.seq <= (conv.buyer_last_read_seq || 0),
      m._pending,
      m._failed,
      m._error,
      m._retrying,
      m.author && m.author.nickname,
      m.sender_kind === "buyer" ? buyerName(conv) : "",
    ]);
  }

  function renderThread(opts) {
    const id = state.activeId;
    if (id === null) return;
    const conv = state.convs.get(id);
    const t = state.threads.get(id);
    if (!conv || !t) return;
    if (threadNodesFor !== id) {
      threadNodes.clear();
      threadNodesFor = id;
      els.newPill.hidden = true;
    }
    const stick = (opts && opts.forceBottom) || nearBottom();
    const items = [];
    for (const m of t.messages.values()) items.push({ seq: m.seq, key: `m${m.seq}`, sig: messageSignature(conv, m), make: () => messageEl(conv, m) });
    for (const e of t.events.values()) {
      const text = eventLine(conv, e);
      if (text) items.push({ seq: e.seq, key: `e${e.seq}`, sig: text, make: () => h("div", { class: "line", dataset: { seq: e.seq } }, h("span", null, text)) });
    }
    items.sort((a, b) => a.seq - b.seq);
    const nodes = [];
    const previous = conv.previous_id && state.convs.get(conv.previous_id);
    if (previous) nodes.push(reuse("previous", previous.created_at, () => previousLine(previous)));
    if (t.hasOlder) nodes.push(reuse("older", "", () => h("div", { class: "line" }, h("button", { type: "button", class: "link", onclick: loadOlder }, S.loadOlder))));
    else if (!t.loaded) nodes.push(reuse("loading", "", () => h("div", { class: "line muted" }, S.loading)));
    for (const item of items) nodes.push(reuse(item.key, item.sig, item.make));
    for (const m of t.pending.values()) nodes.push(reuse(`p${m.client_msg_id}`, messageSignature(conv, m), () => messageEl(conv, m)));
    const box = els.messages;
    const lastBefore = box.lastElementChild;
    nodes.forEach((node, i) => {
      if (box.children[i] !== node) box.insertBefore(node, box.children[i] || null);
    });
    while (box.children.length > nodes.length) box.lastElementChild.remove();
    const keep = new Set(nodes);
    for (const [key, el] of threadNodes) if (!keep.has(el)) threadNodes.delete(key);
    if (opts && opts.keepOffset) box.scrollTop = box.scrollHeight - opts.keepOffset;
    else if (stick) box.scrollTop = box.scrollHeight;
    else if (box.lastElementChild !== lastBefore && lastBefore) {
      // Something new arrived below while the agent reads further up.
      els.newPill.textContent = S.newMessages;
      els.newPill.hidden = false;
    }
    if (stick) els.newPill.hidden = true;
    renderTyping();
  }

  /** The link above a follow-up's thread to the conversation the buyer followed up. */
  function previousLine(previous) {
    return h(
      "div",
      { class: "line line-previous" },
      h(
        "button",
        { type: "button", class: "link", dataset: { testid: "previous-conversation" }, onclick: () => selectConversation(previous.id) },
        fmt(S.previousConversation, { date: timeLabel(previous.created_at) })
      )
    );
  }

  /** A follow-up's previous conversation, for the link above its thread. */
  async function loadPrevious(conv) {
    const id = conv.previous_id;
    if (!id || state.convs.has(id)) return;
    try {
      upsertConv(await api(`conversations/${id}/`), "rest");
    } catch (err) {
      return; /* no link is shown */
    }
    if (state.activeId === conv.id) renderThread();
  }

  function renderTyping() {
    const typing = state.activeId !== null && state.typing.get(state.activeId);
    els.typing.textContent = typing ? fmt(S.buyerTyping, { name: typing.name || buyerName(state.convs.get(state.activeId)) }) : "";
    els.typing.classList.toggle("is-on", !!typing);
  }

  /** Other agents on the open conversation: who writes to its buyer, who only has it open. */
  function renderPeers() {
    const { typing, viewing } = state.activeId === null ? { typing: [], viewing: [] } : peers.of(state.activeId);
    const lines = [];
    if (typing.length) lines.push(h("span", { class: "peer peer-typing" }, fmt(S.peersTyping, { names: typing.join(S.listSeparator) })));
    if (viewing.length) lines.push(h("span", { class: "peer" }, fmt(S.peersViewing, { names: viewing.join(S.listSeparator) })));
    els.peers.replaceChildren(...lines);
    els.peers.hidden = !lines.length;
  }

  /** Tell the shop's other agents following it which thread this tab shows (none while the
   * page is hidden). ``ask``: a newly opened thread, which its viewers answer. */
  let viewingSent = null;
  function announceViewing(ask = true) {
    const id = document.visibilityState === "visible" ? state.activeId : null;
    if (viewingSent !== null && viewingSent !== id) {
      socket.send({ type: "viewing", conversation_id: viewingSent, viewing: false });
    }
    viewingSent = null;
    if (id !== null && socket.send({ type: "viewing", conversation_id: id, viewing: true, ask })) viewingSent = id;
  }

  function onPeerFrame(frame) {
    if (frame.user_id === me.id) return; // this agent's other tab
    const id = frame.conversation_id;
    const changed = peers.take(frame, Date.now());
    if (frame.type === "viewing" && frame.ask && frame.viewing && id === viewingSent) {
      socket.send({ type: "viewing", conversation_id: id, viewing: true, ask: false });
    }
    if (changed && id === state.activeId) renderPeers();
  }

  function renderThreadHeader() {
    const conv = state.convs.get(state.activeId);
    if (!conv) return;
    els.threadName.textContent = buyerName(conv);
    paintAvatar(els.threadAvatar, buyerName(conv), conv.customer ? conv.customer.id : conv.id);
    const shop = cfg.shops.find((s) => s.id === conv.shop_id);
    els.threadMeta.textContent = [channelLabel(conv.channel), cfg.shops.length > 1 && shop ? shop.name : null, `#${conv.id}`].filter(Boolean).join(" · ");
    els.threadStatus.textContent = statusLabel(conv.status);
    els.threadStatus.className = `chip chip-${conv.status}`;
    const resolved = conv.status === "resolved";
    els.resolve.hidden = resolved;
    els.reopen.hidden = !resolved;
    els.assignMe.hidden = !!(conv.assignee && conv.assignee.id === me.id);
    fillAssignSelect(conv);
  }

  async function membersOf(shopId) {
    if (!state.members.has(shopId)) {
      state.members.set(
        shopId,
        api(`shops/${shopId}/members/`)
          .then((body) => {
            const list = body.results || [];
            state.membersResolved = state.membersResolved || new Map();
            state.membersResolved.set(shopId, list);
            return list;
          })
          .catch(() => {
            state.members.delete(shopId);
            return [];
          })
      );
    }
    return state.members.get(shopId);
  }

  async function fillAssignSelect(conv) {
    const members = await membersOf(conv.shop_id);
    if (state.activeId !== conv.id) return;
    const current = state.convs.get(conv.id);
    const assigneeId = current.assignee ? current.assignee.id : "";
    const options = [h("option", { value: "" }, S.unassigned)];
    const seen = new Set();
    const online = state.online.get(conv.shop_id);
    for (const m of members) {
      seen.add(m.id);
      const dot = online ? (online.has(m.id) || m.id === me.id ? "● " : "○ ") : "";
      options.push(h("option", { value: m.id }, dot + (m.id === me.id ? `${m.nickname} (${S.me})` : m.nickname)));
    }
    if (current.assignee && !seen.has(current.assignee.id)) options.push(h("option", { value: current.assignee.id }, current.assignee.nickname));
    els.assign.replaceChildren(...options);
    els.assign.value = String(assigneeId);
  }

  async function selectConversation(id) {
    if (id === null || id === undefined) return;
    if (state.activeId === id) return;
    saveDraft();
    stopTyping();
    state.activeId = id;
    state.listFocus = id;
    history.replaceState(null, "", `?c=${id}`);
    renderPeers();
    els.thread.hidden = false;
    els.threadEmpty.hidden = true;
    renderList();
    const row = rowEls.get(id);
    if (row) row.scrollIntoView({ block: "nearest" });
    renderThreadHeader();
    restoreDraft();
    thread(id);
    announceViewing();
    renderThread({ forceBottom: true });
    loadCustomer(state.convs.get(id));
    loadPrevious(state.convs.get(id));
    await loadThread(id);
    if (state.activeId !== id) return;
    renderThread({ forceBottom: true });
    markRead(id);
  }

  function moveSelection(delta) {
    const ids = sortedListIds();
    if (!ids.length) return;
    const at = ids.indexOf(state.activeId);
    const next = at === -1 ? (delta > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + delta));
    const focusInList = els.list.contains(document.activeElement);
    selectConversation(ids[next]);
    if (focusInList) focusRow(ids[next]);
    if (next >= ids.length - 3) loadList(false);
  }

  function markRead(id) {
    if (id !== state.activeId || document.visibilityState !== "visible") return;
    const conv = state.convs.get(id);
    const t = state.threads.get(id);
    if (!conv || !t) return;
    let maxBuyer = 0;
    for (const m of t.messages.values()) if (m.sender_kind === "buyer" && m.seq > maxBuyer) maxBuyer = m.seq;
    if (maxBuyer > (conv.agent_last_read_seq || 0) && maxBuyer > t.readSent) {
      if (socket.send({ type: "read", conversation_id: id, seq: maxBuyer })) t.readSent = maxBuyer;
    }
  }

  // --- Customer panel -------------------------------------------------------------------

  /** Back online: platform deliveries that changed meanwhile. ``message.delivery`` re-uses its
   * message's seq, so a resync does not bring it: the messages still pending or failed here are
   * read again (a failed one may have been retried by a colleague and delivered). */
  async function refreshDeliveries() {
    for (const t of Array.from(state.threads.values())) {
      const open = Array.from(t.messages.values()).filter((m) => m.delivery_state === "pending" || m.delivery_state === "failed");
      if (!open.length) continue;
      const after = Math.min(...open.map((m) => m.seq)) - 1;
      try {
        const page = await api(`conversations/${t.id}/messages/?after_seq=${after}&limit=200`);
        for (const m of page.results) if (t.messages.has(m.seq)) t.messages.set(m.seq, m);
      } catch (err) {
        continue; // the next reconnect, a live event or a reload brings them
      }
      if (t.id === state.activeId) renderThread();
    }
  }

  /** Back online: load what the open conversation could not while the server was away. */
  async function retryActive() {
    const id = state.activeId;
    if (id === null) return;
    if (!state.customer || state.customer.loading) loadCustomer(state.convs.get(id));
    const t = state.threads.get(id);
    if (!t || t.loaded) return;
    await loadThread(id);
    if (state.activeId !== id) return;
    renderThread({ forceBottom: true });
    markRead(id);
  }

  async function loadCustomer(conv) {
    if (!conv || !conv.customer) return;
    const customerId = conv.customer.id;
    els.sideEmpty.hidden = true;
    els.side.hidden = false;
    renderCustomer(Object.assign({}, conv.customer, { loading: true }));
    try {
      const customer = await api(`customers/${customerId}/`);
      if (!state.convs.get(state.activeId) || state.convs.get(state.activeId).customer.id !== customerId) return;
      renderCustomer(customer);
    } catch (err) {
      /* the brief row data stays */
    }
    loadOrders(customerId);
    loadHistory(conv.id);
  }

  function renderCustomer(c) {
    state.customer = c;
    const name = customerName(c);
    els.custName.textContent = name;
    paintAvatar(els.custAvatar, name, c.id);
    els.custBuyerId.textContent = c.platform_buyer_id || "";
    els.custPhone.textContent = c.masked_phone || "—";
    els.custRealName.textContent = c.name || "—";
    els.custLastContact.textContent = c.last_contact_at ? timeLabel(c.last_contact_at) : "—";
    if (!els.custVip.options.length) {
      for (let i = 0; i <= 10; i++) els.custVip.append(h("option", { value: i }, i === 0 ? "—" : fmt(S.vip, { level: i })));
    }
    els.custVip.value = String(c.vip_level || 0);
    renderTags(c.tags || []);
    if (document.activeElement !== els.notes) {
      els.notes.value = c.notes || "";
      els.notes.dataset.saved = c.notes || "";
    }
    els.notesState.textContent = "";
  }

  function renderTags(tags) {
    els.custTags.replaceChildren(
      ...tags.map((name) =>
        h(
          "span",
          { class: "tag" },
          name,
          h("button", { type: "button", class: "tag-x", "aria-label": `× ${name}`, onclick: () => saveCustomer((c) => ({ tags: (c.tags || []).filter((t) => t !== name) })) }, "×")
        )
      )
    );
  }

  /** PATCH the shown customer. Saves run one after another, and `changes` may be a function
   * of the customer as the previous save left it: two quick tag edits never undo each other. */
  let saving = Promise.resolve();
  function saveCustomer(changes) {
    const run = saving.then(() => saveCustomerNow(changes));
    saving = run.catch(() => null);
    return run;
  }

  async function saveCustomerNow(changesOrFn) {
    const c = state.customer;
    if (!c) return null;
    const changes = typeof changesOrFn === "function" ? changesOrFn(c) : changesOrFn;
    if (!changes) return null;
    try {
      const updated = await api(`customers/${c.id}/`, { method: "PATCH", json: changes });
      onCustomer(updated);
      return updated;
    } catch (err) {
      toast(fmt(S.saveFailed, { message: err.message }), "error");
      return null;
    }
  }

  /** A profile changed, here or by another agent (``customer.updated``): the side panel, if
   * it shows the buyer, and the list rows' brief customer (name, tags, VIP show there). */
  function onCustomer(updated) {
    if (state.customer && state.customer.id === updated.id) renderCustomer(Object.assign({}, state.customer, updated));
    let shown = false;
    for (const conv of state.convs.values()) {
      if (conv.customer && conv.customer.id === updated.id) {
        conv.customer = Object.assign({}, conv.customer, { nickname: updated.nickname, vip_level: updated.vip_level, tags: updated.tags });
        shown = true;
      }
    }
    if (!shown) return;
    renderList();
    renderThreadHeader();
  }

  const orderRow = (o) =>
    h(
      "li",
      { class: "order" },
      h("div", { class: "order-top" }, h("span", { class: "mono" }, o.platform_order_id), h("span", { class: `pill pill-order-${o.status}` }, o.status_display || o.status)),
      (o.items || []).length ? h("div", { class: "order-items" }, o.items.map((i) => `${i.title} ×${i.quantity}`).join("，")) : null,
      h("div", { class: "order-bottom" }, h("span", { class: "muted" }, timeLabel(o.placed_at)), h("span", { class: "order-amount" }, `¥${o.total_amount}`))
    );

  /** The buyer's orders, newest first, a page at a time: "more orders" appends the next page. */
  async function loadOrders(customerId, { live = false } = {}) {
    if (!live) els.orders.replaceChildren(h("li", { class: "muted" }, S.loading));
    try {
      const body = await api(`orders/?customer=${customerId}`);
      if (!state.customer || state.customer.id !== customerId) return;
      const orders = body.results || [];
      if (!orders.length) {
        els.orders.replaceChildren(h("li", { class: "muted" }, S.noOrders));
        return;
      }
      els.orders.replaceChildren(...orders.map(orderRow), ...moreOrders(customerId, body.next));
    } catch (err) {
      els.orders.replaceChildren(h("li", { class: "muted" }, S.ordersUnavailable));
    }
  }

  function moreOrders(customerId, next) {
    return moreItem(next, {
      label: S.moreOrders,
      row: orderRow,
      shown: () => state.customer && state.customer.id === customerId,
      failed: S.ordersUnavailable,
    });
  }

  /** A side panel list's "more" item: a click puts the next page's rows in its place (and a
   * "more" of their own while there are further pages). */
  function moreItem(next, how) {
    if (!next) return [];
    const item = h("li", { class: "panel-more" });
    const button = h("button", { type: "button", class: "link" }, how.label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const body = await api(next);
        if (!how.shown() || !item.isConnected) return;
        item.replaceWith(...(body.results || []).map(how.row), ...moreItem(body.next, how));
      } catch (err) {
        button.disabled = false;
        toast(how.failed, "error");
      }
    });
    item.append(button);
    return [item];
  }

  // The buyer's other conversations (历史会话) a page holds: a narrow panel shows a few.
  const HISTORY_PAGE = 10;

  function historyRow(conv) {
    const assignee = conv.assignee ? (conv.assignee.id === me.id ? S.me : conv.assignee.nickname) : S.unassigned;
    return h(
      "li",
      null,
      h(
        "button",
        {
          type: "button",
          class: "history-open",
          dataset: { id: conv.id, testid: "history-conversation" },
          onclick: () => {
            upsertConv(conv, "rest");
            selectConversation(conv.id);
          },
        },
        h("span", { class: "history-top" }, h("time", { datetime: conv.created_at }, timeLabel(conv.created_at)), h("span", { class: `pill pill-${conv.status}` }, statusLabel(conv.status))),
        h("span", { class: "history-preview" }, conv.last_message_preview || "\u00a0"),
        h("span", { class: "history-meta" }, [channelLabel(conv.channel), assignee].join(" · "))
      )
    );
  }

  /** The open conversation's buyer's other conversations, newest first, a page at a time. */
  async function loadHistory(convId, { live = false } = {}) {
    const shown = () => state.activeId === convId;
    if (!live) els.history.replaceChildren(h("li", { class: "muted" }, S.loading));
    try {
      const body = await api(`conversations/${convId}/others/?page_size=${HISTORY_PAGE}`);
      if (!shown()) return;
      const rows = body.results || [];
      if (!rows.length) {
        els.history.replaceChildren(h("li", { class: "muted" }, S.noHistory));
        return;
      }
      const more = moreItem(body.next, { label: S.moreHistory, row: historyRow, shown, failed: S.historyUnavailable });
      els.history.replaceChildren(...rows.map(historyRow), ...more);
    } catch (err) {
      if (shown()) els.history.replaceChildren(h("li", { class: "muted" }, S.historyUnavailable));
    }
  }

  // --- Drafts, modes and the composer ---------------------------------------------------

  const draftKey = (id) => `dxe.draft.${me.id}.${id}`;

  function saveDraft() {
    if (state.activeId === null) return;
    const text = els.input.value;
    state.drafts.set(state.activeId, text);
    store.set(draftKey(state.activeId), text);
  }

  function restoreDraft() {
    const id = state.activeId;
    const text = state.drafts.has(id) ? state.drafts.get(id) : store.get(draftKey(id), "");
    els.input.value = text;
    setMode(state.modes.get(id) || "reply");
  }

  function setMode(mode) {
    els.composer.dataset.mode = mode;
    if (state.activeId !== null) state.modes.set(state.activeId, mode);
    for (const b of els.composer.querySelectorAll(".mode")) {
      const on = b.dataset.mode === mode;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-selected", on ? "true" : "false");
    }
    els.input.placeholder = mode === "note" ? S.notePlaceholder : S.replyPlaceholder;
    els.imagePick.classList.toggle("is-disabled", mode === "note");
    els.imageInput.disabled = mode === "note";
    document.getElementById("send-btn").textContent = mode === "note" ? S.addNote : S.sendShort;
    if (mode === "note") stopTyping();
  }

  let typingSentAt = 0;
  let typingTimer = null;
  let typingConv = null;

  function noteTyping() {
    if (els.composer.dataset.mode !== "reply" || state.activeId === null) return;
    if (!els.input.value.trim()) return stopTyping();
    const now = Date.now();
    if (typingConv !== state.activeId || now - typingSentAt > 3000) {
      if (socket.send({ type: "typing", conversation_id: state.activeId, is_typing: true })) {
        typingSentAt = now;
        typingConv = state.activeId;
      }
    }
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(stopTyping, 4000);
  }

  function stopTyping() {
    window.clearTimeout(typingTimer);
    if (typingConv !== null) socket.send({ type: "typing", conversation_id: typingConv, is_typing: false });
    typingConv = null;
    typingSentAt = 0;
  }

  function sendText() {
    const id = state.activeId;
    const text = els.input.value.trim();
    if (id === null || !text) return;
    const note = els.composer.dataset.mode === "note";
    const cmid = uuid();
    const frame = { type: note ? "note" : "send", client_msg_id: cmid, conversation_id: id, text };
    const local = {
      client_msg_id: cmid,
      conversation_id: id,
      sender_kind: "agent",
      author: { id: me.id, nickname: me.nickname },
      text,
      is_private: note,
      attachments: [],
      created_at: new Date().toISOString(),
      _pending: true,
    };
    thread(id).pending.set(cmid, local);
    state.outbox.sendFrame(cmid, frame, { convId: id });
    stopTyping();
    els.input.value = "";
    state.drafts.delete(id);
    store.set(draftKey(id), null);
    renderThread({ forceBottom: true });
  }

  function sendImages(files) {
    const id = state.activeId;
    if (id === null || !files.length) return;
    if (els.composer.dataset.mode === "note") {
      toast(S.noteImagesUnsupported, "error");
      return;
    }
    const cmid = uuid();
    const previewUrls = files.map((f) => URL.createObjectURL(f));
    const local = {
      client_msg_id: cmid,
      conversation_id: id,
      sender_kind: "agent",
      author: { id: me.id, nickname: me.nickname },
      text: "",
      is_private: false,
      attachments: previewUrls.map((url) => ({ url })),
      previewUrls,
      created_at: new Date().toISOString(),
      _pending: true,
    };
    thread(id).pending.set(cmid, local);
    state.outbox.set(cmid, { convId: id, files });
    renderThread({ forceBottom: true });
    upload(cmid);
  }

  async function upload(cmid) {
    const entry = state.outbox.get(cmid);
    if (!entry || !entry.files || entry.uploading) return;
    entry.uploading = true;
    const form = new FormData();
    for (const file of entry.files) form.append("images", file, file.name || "image.png");
    form.append("client_msg_id", cmid);
    try {
      const message = await api(`conversations/${entry.convId}/messages/`, { method: "POST", body: form });
      addMessage(message);
      if (entry.convId === state.activeId) renderThread();
    } catch (err) {
      if (err instanceof ApiError) {
        // Refused (bad image, too large): retrying would fail the same way.
        failPending(entry.convId, cmid, err.message);
        toast(fmt(S.uploadFailed, { message: err.message }), "error");
      }
      /* network failure: stays in the outbox, retried on reconnect */
    } finally {
      entry.uploading = false;
    }
  }

  function failPending(convId, cmid, error) {
    state.outbox.delete(cmid);
    const t = state.threads.get(convId);
    const local = t && t.pending.get(cmid);
    if (local) {
      local._pending = false;
      local._failed = true;
      local._error = error;
      if (convId === state.activeId) renderThread();
    }
  }

  function retrySend(local) {
    local._failed = false;
    local._pending = true;
    const cmid = local.client_msg_id;
    if (local.previewUrls) {
      // The files are gone from the outbox once refused; pick them again instead.
      thread(local.conversation_id).pending.delete(cmid);
      renderThread();
      return;
    }
    const frame = { type: local.is_private ? "note" : "send", client_msg_id: cmid, conversation_id: local.conversation_id, text: local.text };
    state.outbox.sendFrame(cmid, frame, { convId: local.conversation_id });
    renderThread();
  }


  // --- New-chat alerts ------------------------------------------------------------------

  const alerts = new window.DXE.Alerts(store, showAlertToggles);
  const pageStart = Date.parse(cfg.serverTime);
  const alertedNew = new Set(); // conversations already announced as new
  const newerThanPage = (iso) => Date.parse(iso) > pageStart;

  function showAlertToggles() {
    els.soundToggle.setAttribute("aria-pressed", String(alerts.sound));
    els.desktopToggle.setAttribute("aria-pressed", String(alerts.desktop));
  }

  /** A conversation started since this page loaded and waiting in the unassigned queue. */
  function alertIfNew(conv) {
    if (conv.assignee || conv.status === "resolved" || alertedNew.has(conv.id) || !newerThanPage(conv.created_at)) return;
    alertedNew.add(conv.id);
    alerts.alert({
      title: fmt(S.alertNewConversation, { name: buyerName(conv) }),
      body: conv.last_message_preview || "",
      tag: `dxe-conversation-${conv.id}`,
      event: `new-${conv.id}`,
      onClick: () => selectConversation(conv.id),
    });
  }

  /** A buyer wrote in a conversation of mine that I am not looking at. Agents' messages,
   * mine or a colleague's, never alert, and so private notes (always an agent's) never do. */
  function alertIfMine(conv, message) {
    if (message.sender_kind !== "buyer" || !newerThanPage(message.created_at)) return;
    if (!conv || !conv.assignee || conv.assignee.id !== me.id) return;
    const event = `message-${conv.id}-${message.seq}`;
    const looking = conv.id === state.activeId && document.visibilityState === "visible" && document.hasFocus();
    if (looking) return alerts.seen(event);
    alerts.alert({
      title: buyerName(conv),
      body: message.text || S.image,
      tag: `dxe-conversation-${conv.id}`,
      event,
      onClick: () => selectConversation(conv.id),
    });
  }

  // --- Socket ---------------------------------------------------------------------------

  function onEvent(ev) {
    const id = ev.conversation_id;
    const known = state.convs.has(id) || state.threads.has(id);
    if (ev.kind === "message.delivery") {
      if (ev.message) {
        const t = state.threads.get(id);
        if (t && t.messages.has(ev.message.seq)) t.messages.set(ev.message.seq, ev.message);
      }
      if (ev.conversation) upsertConv(ev.conversation);
      if (id === state.activeId) renderThread();
      return;
    }
    if (!takeSeq(id, ev.seq, known)) return;
    if (ev.conversation) {
      convChanged(upsertConv(ev.conversation));
      alertIfNew(ev.conversation);
    }
    const t = state.threads.get(id);
    if (ev.kind === "message.created" && ev.message) {
      addMessage(ev.message);
      const conv = state.convs.get(id);
      alertIfMine(conv, ev.message);
      if (t && id === state.activeId) {
        renderThread();
        if (ev.message.sender_kind === "buyer") markRead(id);
      }
      if (ev.message.sender_kind === "buyer" && state.typing.has(id)) {
        state.typing.delete(id);
        if (id === state.activeId) renderTyping();
      }
      if (ev.message.sender_kind === "agent" && !ev.message.is_private && ev.message.author && ev.message.author.id !== me.id) {
        onPeerFrame({ type: "typing", conversation_id: id, user_id: ev.message.author.id, is_typing: false });
      }
      if (conv && ev.message.sender_kind === "buyer" && id !== state.activeId) renderList();
    } else if (t) {
      if (ev.kind !== "conversation.read") t.events.set(ev.seq, { seq: ev.seq, kind: ev.kind.replace("conversation.", ""), data: ev.data || {}, actor: ev.actor || null });
      if (id === state.activeId) renderThread();
    }
  }

  /** Coalesced list rows of conversations that changed (ours come as events too). */
  function onRows(rows) {
    let buyerStarted = false; // the buyer of the side panel opened a new conversation
    for (const row of rows) {
      if (!state.convs.has(row.id) && state.customer && row.customer && row.customer.id === state.customer.id) buyerStarted = true;
      const conv = upsertConv(row, "row");
      if (matchesFilter(conv) && !state.q) state.listed.add(conv.id);
      else if (!state.q && conv.id !== state.activeId) state.listed.delete(conv.id);
      alertIfNew(row);
    }
    renderList();
    if (rows.some((row) => row.id === state.activeId)) renderThreadHeader();
    if (buyerStarted && state.activeId !== null) loadHistory(state.activeId, { live: true });
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello": {
        state.hellos += 1;
        for (const shop of frame.shops || []) state.online.set(shop.id, new Set(shop.online_user_ids || []));
        showList();
        watchThreads();
        viewingSent = null; // a new socket: nobody has heard this one yet
        announceViewing();
        resync(state.threads.keys());
        for (const t of state.threads.values()) t.readSent = 0;
        state.outbox.flush(true);
        if (state.hellos > 1) {
          refreshFirstPage();
          retryActive();
          refreshDeliveries();
        }
        if (state.activeId !== null) markRead(state.activeId);
        break;
      }
      case "event":
        if (frame.event) onEvent(frame.event);
        break;
      case "list.update":
        onRows(frame.conversations || []);
        break;
      case "ack":
        if (frame.message) {
          addMessage(frame.message);
          if (frame.message.conversation_id === state.activeId) renderThread();
        }
        state.outbox.delete(frame.client_msg_id);
        break;
      case "resync.done":
        raiseHeld(frame.conversation_id, frame.last_seq);
        if (frame.more) resync([frame.conversation_id]);
        if (frame.conversation_id === state.activeId) markRead(state.activeId);
        break;
      case "viewing":
        onPeerFrame(frame);
        break;
      case "typing":
        if (frame.side === "agent") onPeerFrame(frame);
        else if (frame.side === "buyer") {
          if (frame.is_typing) state.typing.set(frame.conversation_id, { name: frame.name, until: Date.now() + 6000 });
          else state.typing.delete(frame.conversation_id);
          if (frame.conversation_id === state.activeId) renderTyping();
          if (state.listed.has(frame.conversation_id)) renderList();
        }
        break;
      case "error": {
        const ref = frame.ref;
        const entry = ref && state.outbox.get(ref);
        if (entry) {
          failPending(entry.convId, ref, frame.message);
          toast(fmt(S.sendFailed, { message: frame.message }), "error");
        } else if (!["rate_limited", "not_found"].includes(frame.code) && !["typing", "read", "resync"].includes(ref)) {
          toast(frame.message || S.error, "error");
        }
        break;
      }
      case "customer.updated":
        if (frame.customer) onCustomer(frame.customer);
        break;
      case "customer.orders":
        if (state.customer && state.customer.id === frame.customer_id) loadOrders(frame.customer_id, { live: true });
        break;
      case "presence": {
        for (const shop of cfg.shops) {
          const online = state.online.get(shop.id);
          if (!online) continue;
          if (frame.online) online.add(frame.user_id);
          else online.delete(frame.user_id);
        }
        const conv = state.convs.get(state.activeId);
        if (conv) fillAssignSelect(conv);
        break;
      }
      default:
        break;
    }
  }

  function onState(s) {
    const label = s === "open" ? S.connected : s === "connecting" ? S.connecting : S.offline;
    els.conn.dataset.state = s === "open" ? "open" : s === "connecting" ? "connecting" : "offline";
    els.conn.querySelector(".conn-text").textContent = label;
  }

  const socket = new window.DXE.ReconnectingSocket(window.DXE.wsUrl(cfg.ws), {
    onFrame,
    onState,
    onClose(code) {
      // 4401/4403: the session is gone (signed out, here or elsewhere) or the user's shops
      // changed: a reload shows the login page or what the user has now. Not while this page
      // is already leaving (its own sign-out form closes the socket too).
      if (code === 4401 || code === 4403) {
        if (!leaving) window.location.reload();
        return "stop";
      }
      return null;
    },
  });
  let leaving = false;
  window.addEventListener("beforeunload", () => {
    leaving = true;
    if (viewingSent !== null) socket.send({ type: "viewing", conversation_id: viewingSent, viewing: false });
  });
  window.dxeSocket = socket; // console and browser-test hook: dxeSocket.drop(ms)

  // --- Timers ---------------------------------------------------------------------------

  window.setInterval(() => {
    const now = Date.now();
    for (const el of els.list.querySelectorAll(".wait[data-since]")) {
      const ms = now - Date.parse(el.dataset.since);
      el.textContent = duration(ms);
      el.className = waitClass(ms);
    }
    let changed = false;
    for (const [id, t] of state.typing) {
      if (t.until < now) {
        state.typing.delete(id);
        changed = true;
      }
    }
    if (changed) {
      renderList();
      renderTyping();
    }
    if (peers.prune(now).has(state.activeId)) renderPeers();
  }, 1000);

  window.setInterval(() => {
    if (socket.isOpen()) announceViewing(false);
  }, window.DXE.Peers.VIEWING_REFRESH_MS);

  window.setInterval(() => {
    if (socket.isOpen()) state.outbox.flush(false);
  }, 2500);

  // --- Lightbox and help ----------------------------------------------------------------

  // An open overlay is modal: the workspace behind it is inert, Tab cycles inside it, and
  // closing it (Esc, its × or a click outside) gives the focus back to what had it.
  const overlay = { el: null, returnTo: null };
  const FOCUSABLE = 'button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])';

  function openOverlay(el) {
    if (overlay.el) closeOverlays();
    overlay.returnTo = document.activeElement;
    overlay.el = el;
    el.hidden = false;
    els.workspace.inert = true;
    const first = el.querySelector(FOCUSABLE);
    if (first) first.focus();
  }

  function closeOverlays() {
    const el = overlay.el;
    if (!el) return false;
    el.hidden = true;
    overlay.el = null;
    els.workspace.inert = false;
    let back = overlay.returnTo;
    overlay.returnTo = null;
    // A list row may have been rebuilt meanwhile: its successor takes the focus.
    if (back && !back.isConnected && back.matches(".conv")) back = rowEls.get(Number(back.dataset.id));
    if (back && back.isConnected && back !== document.body) back.focus();
    return true;
  }

  function trapTab(e) {
    const items = Array.from(overlay.el.querySelectorAll(FOCUSABLE)).filter((x) => !x.disabled);
    if (!items.length) return;
    const at = items.indexOf(document.activeElement);
    const to = e.shiftKey ? (at <= 0 ? items.length - 1 : at - 1) : at === items.length - 1 ? 0 : at + 1;
    e.preventDefault();
    items[to].focus();
  }

  function openLightbox(src) {
    els.lightboxImg.src = src;
    openOverlay(els.lightbox);
  }
  els.lightbox.addEventListener("click", closeOverlays);
  els.help.addEventListener("click", (e) => {
    if (e.target === els.help || e.target.classList.contains("overlay-close")) closeOverlays();
  });
  els.helpBtn.addEventListener("click", () => openOverlay(els.help));

  els.soundToggle.addEventListener("click", () => {
    alerts.setSound(!alerts.sound);
    showAlertToggles();
  });
  els.desktopToggle.addEventListener("click", async () => {
    const result = await alerts.setDesktop(!alerts.desktop);
    if (result === "denied") toast(S.notificationsBlocked, "error");
    else if (result === "unsupported") toast(S.notificationsUnsupported, "error");
    showAlertToggles();
  });

  // --- Wiring ---------------------------------------------------------------------------

  for (const tab of els.tabs) tab.addEventListener("click", () => setFilter({ view: tab.dataset.view }));
  els.status.value = state.status === "all" ? "" : state.status;
  if (state.status === "all") state.status = "";
  els.status.addEventListener("change", () => setFilter({ status: els.status.value }));
  let searchTimer = null;
  els.search.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => setFilter({ q: els.search.value.trim() }), 250);
  });
  els.list.addEventListener("scroll", maybeLoadMore, { passive: true });
  els.list.addEventListener("keydown", onListKey);
  els.list.addEventListener("focusin", (e) => {
    const row = e.target.closest(".conv");
    if (row) state.listFocus = Number(row.dataset.id);
  });
  els.messages.addEventListener("scroll", () => {
    if (!els.newPill.hidden && nearBottom()) els.newPill.hidden = true;
  }, { passive: true });
  els.newPill.addEventListener("click", () => {
    els.messages.scrollTop = els.messages.scrollHeight;
    els.newPill.hidden = true;
  });

  els.composer.addEventListener("submit", (e) => {
    e.preventDefault();
    sendText();
  });
  for (const b of els.composer.querySelectorAll(".mode")) b.addEventListener("click", () => {
    setMode(b.dataset.mode);
    els.input.focus();
  });
  els.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendText();
    } else if (e.key === "Escape") {
      e.preventDefault();
      els.input.blur();
      stopTyping();
    }
  });
  let draftTimer = null;
  els.input.addEventListener("input", () => {
    state.drafts.set(state.activeId, els.input.value);
    window.clearTimeout(draftTimer);
    draftTimer = window.setTimeout(saveDraft, 300);
    noteTyping();
  });
  els.input.addEventListener("blur", () => {
    saveDraft();
  });
  els.input.addEventListener("paste", (e) => {
    const files = Array.from((e.clipboardData && e.clipboardData.files) || []).filter((f) => f.type.startsWith("image/"));
    if (files.length) {
      e.preventDefault();
      sendImages(files);
    }
  });
  els.imageInput.addEventListener("change", () => {
    const files = Array.from(els.imageInput.files || []);
    els.imageInput.value = "";
    sendImages(files);
  });

  /** Assign as this tab saw the conversation: if someone changed its assignee meanwhile, the
   * server refuses (409) and the tab shows who has it now instead of overruling them. */
  async function assign(id, assigneeId) {
    const seen = state.convs.get(id);
    const expected = seen && seen.assignee ? seen.assignee.id : null;
    try {
      const conv = await api(`conversations/${id}/assign/`, { method: "POST", json: { assignee_id: assigneeId, expected_assignee_id: expected } });
      convChanged(upsertConv(conv));
    } catch (err) {
      toast(err.message, "error");
      if (err.status === 409) {
        try {
          convChanged(upsertConv(await api(`conversations/${id}/`), "rest"));
        } catch (ignored) {
          // the live event brings the change anyway
        }
      }
      if (id === state.activeId) renderThreadHeader();
    }
  }
  els.assign.addEventListener("change", () => assign(state.activeId, els.assign.value ? Number(els.assign.value) : null));
  els.assignMe.addEventListener("click", () => assign(state.activeId, me.id));
  for (const [btn, action] of [
    [els.resolve, "resolve"],
    [els.reopen, "reopen"],
  ]) {
    btn.addEventListener("click", async () => {
      try {
        const conv = await api(`conversations/${state.activeId}/${action}/`, { method: "POST", json: {} });
        convChanged(upsertConv(conv));
      } catch (err) {
        toast(err.message, "error");
      }
    });
  }

  els.custVip.addEventListener("change", () => saveCustomer({ vip_level: Number(els.custVip.value) }));
  els.tagForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = els.tagInput.value.trim();
    if (!name || !state.customer) return;
    els.tagInput.value = "";
    const saved = await saveCustomer((c) => ((c.tags || []).includes(name) ? null : { tags: [...(c.tags || []), name] }));
    if (saved === null && !(state.customer.tags || []).includes(name)) els.tagInput.value = name; // refused: give it back
  });
  async function saveNotes() {
    if (!state.customer || els.notes.value === els.notes.dataset.saved) return;
    const value = els.notes.value;
    if (await saveCustomer({ notes: value })) {
      els.notes.dataset.saved = value;
      els.notesState.textContent = S.saved;
    }
  }
  els.notes.addEventListener("blur", saveNotes);
  els.notes.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      els.notes.blur();
    } else if (e.key === "Escape") {
      els.notes.value = els.notes.dataset.saved || "";
      els.notes.blur();
    }
  });

  const typingTarget = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);

  document.addEventListener("keydown", (e) => {
    if (overlay.el) {
      if (e.key === "Escape") {
        e.preventDefault();
        closeOverlays();
      } else if (e.key === "Tab") trapTab(e);
      return;
    }
    if (e.defaultPrevented) return; // the list took it
    if (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      moveSelection(e.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (typingTarget(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") moveSelection(1);
    else if (e.key === "k") moveSelection(-1);
    else if (e.key === "?") openOverlay(els.help);
    else if (e.key === "/") {
      e.preventDefault();
      els.search.focus();
    } else if ((e.key === "r" || e.key === "n") && state.activeId !== null) {
      e.preventDefault();
      setMode(e.key === "n" ? "note" : "reply");
      els.input.focus();
    } else return;
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.activeId !== null) markRead(state.activeId);
    announceViewing();
  });
  window.addEventListener("beforeunload", saveDraft);

  // --- Start ----------------------------------------------------------------------------

  async function start() {
    showAlertToggles();
    for (const tab of els.tabs) {
      const on = tab.dataset.view === state.view;
      tab.classList.toggle("is-active", on);
      tab.setAttribute("aria-selected", on ? "true" : "false");
    }
    await loadList(true);
    socket.start();
    const wanted = Number(new URLSearchParams(location.search).get("c"));
    if (wanted) {
      if (!state.convs.has(wanted)) {
        try {
          upsertConv(await api(`conversations/${wanted}/`), "rest");
        } catch (err) {
          return;
        }
      }
      selectConversation(wanted);
    }
  }
  start();
})();
