/* The threads this tab holds (all watched, at most MAX_THREADS) and the open one: loading
 * their history, rendering it with node reuse, opening a conversation and marking it read. */
(function () {
  "use strict";
  const { h, fmt, timeLabel } = window.DXE;

  window.DXE.workspace.thread = function (ws) {
    const { S, state, els } = ws;

    // Threads held (and watched) at once; the server follows at most 100 per socket.
    const MAX_THREADS = 100;

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
      ws.socket.send({ type: "watch", conversation_ids: Array.from(state.threads.keys()) });
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
          const page = await ws.api(`conversations/${id}/messages/?limit=50`);
          for (const m of page.results) if (!t.messages.has(m.seq)) t.messages.set(m.seq, m);
          t.hasOlder = page.has_more;
          const first = page.results.length ? page.results[0].seq : 0;
          try {
            const events = await ws.api(`conversations/${id}/events/?after_seq=${Math.max(0, first - 1)}`);
            for (const e of events.results) t.events.set(e.seq, e);
          } catch (err) {
            /* event lines are context only */
          }
          t.loaded = true;
          if (page.last_seq > ws.seqState(id).held) ws.resync([id]);
        } catch (err) {
          ws.toast(S.loadFailed, "error");
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
        const page = await ws.api(`conversations/${t.id}/messages/?after_seq=${after}&limit=200`);
        for (const m of page.results) if (!t.messages.has(m.seq)) t.messages.set(m.seq, m);
        t.hasOlder = after > 0;
        const events = await ws.api(`conversations/${t.id}/events/?after_seq=${after}`);
        for (const e of events.results) if (e.seq < oldest) t.events.set(e.seq, e);
      } catch (err) {
        ws.toast(S.loadFailed, "error");
      }
      renderThread({ keepOffset: before });
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
        m.sender_kind === "buyer" ? ws.buyerName(conv) : "",
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
      for (const m of t.messages.values()) items.push({ seq: m.seq, key: `m${m.seq}`, sig: messageSignature(conv, m), make: () => ws.messageEl(conv, m) });
      for (const e of t.events.values()) {
        const text = ws.eventLine(conv, e);
        if (text) items.push({ seq: e.seq, key: `e${e.seq}`, sig: text, make: () => h("div", { class: "line", dataset: { seq: e.seq } }, h("span", null, text)) });
      }
      items.sort((a, b) => a.seq - b.seq);
      const nodes = [];
      const previous = conv.previous_id && state.convs.get(conv.previous_id);
      if (previous) nodes.push(reuse("previous", previous.created_at, () => previousLine(previous)));
      if (t.hasOlder) nodes.push(reuse("older", "", () => h("div", { class: "line" }, h("button", { type: "button", class: "link", onclick: loadOlder }, S.loadOlder))));
      else if (!t.loaded) nodes.push(reuse("loading", "", () => h("div", { class: "line muted" }, S.loading)));
      for (const item of items) nodes.push(reuse(item.key, item.sig, item.make));
      for (const m of t.pending.values()) nodes.push(reuse(`p${m.client_msg_id}`, messageSignature(conv, m), () => ws.messageEl(conv, m)));
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
        ws.upsertConv(await ws.api(`conversations/${id}/`), "rest");
      } catch (err) {
        return; /* no link is shown */
      }
      if (state.activeId === conv.id) renderThread();
    }

    function renderTyping() {
      const typing = state.activeId !== null && state.typing.get(state.activeId);
      els.typing.textContent = typing ? fmt(S.buyerTyping, { name: typing.name || ws.buyerName(state.convs.get(state.activeId)) }) : "";
      els.typing.classList.toggle("is-on", !!typing);
    }

    async function selectConversation(id) {
      if (id === null || id === undefined) return;
      if (state.activeId === id) return;
      ws.saveDraft();
      ws.stopTyping();
      ws.closeSnoozeMenu(false);
      if (state.activeId !== null) ws.releaseRow(state.activeId);
      state.activeId = id;
      state.listFocus = id;
      history.replaceState(null, "", `?c=${id}`);
      ws.renderPeers();
      els.thread.hidden = false;
      els.threadEmpty.hidden = true;
      ws.renderList();
      const row = ws.rowEls.get(id);
      if (row) row.scrollIntoView({ block: "nearest" });
      ws.renderThreadHeader();
      ws.restoreDraft();
      thread(id);
      ws.announceViewing();
      renderThread({ forceBottom: true });
      ws.loadCustomer(state.convs.get(id));
      loadPrevious(state.convs.get(id));
      await loadThread(id);
      if (state.activeId !== id) return;
      renderThread({ forceBottom: true });
      markRead(id);
    }

    function markRead(id) {
      if (id !== state.activeId || document.visibilityState !== "visible") return;
      const conv = state.convs.get(id);
      const t = state.threads.get(id);
      if (!conv || !t) return;
      let maxBuyer = 0;
      for (const m of t.messages.values()) if (m.sender_kind === "buyer" && m.seq > maxBuyer) maxBuyer = m.seq;
      if (maxBuyer > (conv.agent_last_read_seq || 0) && maxBuyer > t.readSent) {
        if (ws.socket.send({ type: "read", conversation_id: id, seq: maxBuyer })) t.readSent = maxBuyer;
      }
    }

    /** Back online: platform deliveries that changed meanwhile. ``message.delivery`` re-uses its
     * message's seq, so a resync does not bring it: the messages still pending or failed here are
     * read again (a failed one may have been retried by a colleague and delivered). */
    async function refreshDeliveries() {
      for (const t of Array.from(state.threads.values())) {
        const open = Array.from(t.messages.values()).filter((m) => m.delivery_state === "pending" || m.delivery_state === "failed");
        if (!open.length) continue;
        const after = Math.min(...open.map((m) => m.seq)) - 1;
        try {
          const page = await ws.api(`conversations/${t.id}/messages/?after_seq=${after}&limit=200`);
          for (const m of page.results) if (t.messages.has(m.seq)) t.messages.set(m.seq, m);
        } catch (err) {
          continue; // the next reconnect, a live event or a reload brings them
        }
        if (t.id === state.activeId) renderThread();
      }
    }

    /** Back online: load what the open conversation could not while the server was away, and
     * its buyer's profile again (edits made meanwhile sent no event to this tab). */
    async function retryActive() {
      const id = state.activeId;
      if (id === null) return;
      ws.loadCustomer(state.convs.get(id), { live: Boolean(state.customer && !state.customer.loading) });
      const t = state.threads.get(id);
      if (!t || t.loaded) return;
      await loadThread(id);
      if (state.activeId !== id) return;
      renderThread({ forceBottom: true });
      markRead(id);
    }

    els.messages.addEventListener("scroll", () => {
      if (!els.newPill.hidden && nearBottom()) els.newPill.hidden = true;
    }, { passive: true });
    els.newPill.addEventListener("click", () => {
      els.messages.scrollTop = els.messages.scrollHeight;
      els.newPill.hidden = true;
    });

    Object.assign(ws, { thread, watchThreads, addMessage, renderThread, renderTyping, selectConversation, markRead, refreshDeliveries, retryActive });
  };
})();
