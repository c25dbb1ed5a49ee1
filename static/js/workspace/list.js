/* The conversation list: the conversations this tab knows, which of them the filters show,
 * their rows (rebuilt only when what they show changed), keyset paging as the list scrolls,
 * and the view tabs, status filter and search. */
(function () {
  "use strict";
  const { h, fmt, timeLabel, duration } = window.DXE;

  window.DXE.workspace.list = function (ws) {
    const { cfg, S, me, state, els, store } = ws;
    // An agent of several shops sees on each row whose it is; of one shop, nothing to tell.
    const shopNames = cfg.shops.length > 1 ? new Map(cfg.shops.map((shop) => [shop.id, shop.name])) : null;

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
        const s = ws.seqState(conv.id);
        if (!state.threads.has(conv.id)) ws.raiseHeld(conv.id, conv.last_seq);
        else if (conv.last_seq > s.held) ws.scheduleGapCheck(conv.id);
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
      ws.paintAvatar(avatar, ws.buyerName(conv), conv.customer ? conv.customer.id : conv.id);
      const shopName = shopNames && shopNames.get(conv.shop_id);
      const meta = [];
      if (waiting) {
        const ms = Date.now() - Date.parse(conv.waiting_since);
        meta.push(h("span", { class: waitClass(ms), dataset: { since: conv.waiting_since }, title: S.waiting }, duration(ms)));
      }
      if (conv.customer && conv.customer.vip_level) meta.push(h("span", { class: "pill pill-vip" }, fmt(S.vip, { level: conv.customer.vip_level })));
      meta.push(h("span", { class: "pill" }, ws.channelLabel(conv.channel)));
      if (conv.status !== "open") meta.push(h("span", { class: `pill pill-${conv.status}` }, ws.statusText(conv)));
      if (conv.status === "resolved" && conv.rating) {
        const tone = conv.rating >= 4 ? "good" : conv.rating <= 2 ? "bad" : "neutral";
        meta.push(h("span", { class: `pill pill-rating is-${tone}`, dataset: { testid: "rating-pill" } }, ws.ratingLabel(conv.rating)));
      }
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
            ws.selectConversation(conv.id);
            // A mouse click leaves no focus ring in the list: j/k then open the next one.
            if (e.detail && els.list.contains(document.activeElement)) document.activeElement.blur();
          },
        },
        avatar,
        h(
          "div",
          { class: "conv-main" },
          h(
            "div",
            { class: "conv-top" },
            h("span", { class: "conv-name" }, ws.buyerName(conv)),
            shopName ? h("span", { class: "conv-shop", title: shopName, dataset: { testid: "row-shop" } }, shopName) : null,
            h("span", { class: "conv-time" }, timeLabel(conv.last_message_at))
          ),
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
        conv.snoozed_until,
        conv.rating,
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
      const roving = ws.rovingRow(ids);
      for (const [id, row] of rowEls) row.tabIndex = id === roving ? 0 : -1;
      // A rebuilt or removed row took the focus with it: give it back.
      if (focusInList && !els.list.contains(document.activeElement) && roving !== null) ws.focusRow(roving);
      updateTitle();
    }

    function updateTitle() {
      let unread = 0;
      for (const conv of state.convs.values()) if (state.listed.has(conv.id)) unread += conv.agent_unread_count || 0;
      document.title = (unread ? `(${unread}) ` : "") + document.title.replace(/^\(\d+\) /, "");
    }

    const PAGE_SIZE = 30;
    const MAX_PAGE_SIZE = 100; // the API's

    /** The list from its first page (`reset`) or its next one. `rows`: the first page's size;
     * `keepOpen`: the open conversation's row stays even when the page does not bring it. */
    async function loadList(reset, options = {}) {
      const { rows = PAGE_SIZE, keepOpen = false } = options;
      if (state.listLoading && !reset) return;
      if (!reset && !state.next) return;
      const gen = reset ? ++state.listGen : state.listGen;
      let url;
      if (reset) {
        const params = new URLSearchParams({ view: state.view, page_size: String(rows) });
        if (state.status) params.set("status", state.status);
        if (state.q) params.set("q", state.q);
        url = `conversations/?${params}`;
      } else {
        url = state.next;
      }
      state.listLoading = true;
      renderList();
      try {
        const page = await ws.api(url);
        if (gen !== state.listGen) return;
        if (reset) {
          const open = keepOpen && state.listed.has(state.activeId) ? state.activeId : null;
          state.listed.clear();
          if (open !== null) state.listed.add(open);
        }
        for (const row of page.results) state.listed.add(upsertConv(row, "rest").id);
        state.next = page.next;
      } catch (err) {
        if (gen === state.listGen) {
          ws.toast(S.loadFailed, "error");
          window.setTimeout(() => {
            if (gen === state.listGen) loadList(reset, options);
          }, 3000);
        }
      } finally {
        if (gen === state.listGen) state.listLoading = false;
        renderList();
        maybeLoadMore();
      }
    }

    /** After a reconnect: while the socket was away rows changed, came or stopped matching the
     * list (resolved or taken by another agent) and no event said so. Read the list again, as
     * many rows as it showed so that the scroll stays; the open conversation stays listed. */
    function reloadList() {
      const rows = Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, state.listed.size));
      return loadList(true, { rows, keepOpen: true });
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
      if (conv.id === state.activeId) ws.renderThreadHeader();
    }

    /** The open conversation's row stays while it is open, even when the filters stop
     * showing it (resolved, or taken by another agent): it leaves once another one opens. */
    function releaseRow(id) {
      const conv = state.convs.get(id);
      if (conv && !state.q && !matchesFilter(conv)) state.listed.delete(id);
    }

    /** Tell the server which list we show: its rows come live (the others' churn does not). */
    function showList() {
      ws.socket.send({ type: "list", view: state.view });
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

    Object.assign(ws, { matchesFilter, upsertConv, sortedListIds, renderList, waitClass, loadList, reloadList, convChanged, releaseRow, showList, rowEls });
  };
})();
