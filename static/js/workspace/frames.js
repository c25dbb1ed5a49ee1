/* Frames from /ws/agent/, dispatched to the modules (see docs/ARCHITECTURE.md, "Realtime").
 *
 * The socket brings full events only for the conversations we follow (assigned to us, or
 * watched: we watch every thread this tab holds, at most MAX_THREADS), and coalesced
 * `list.update` rows of the list we show (`list` frame). On every (re)connect (`hello`) we
 * watch our threads again, send resync with `held` of each, then resend unacknowledged
 * frames with their original client_msg_id (the server answers a retry with the stored
 * message), and read the list again (what changed, came or left while we were away) and
 * the open conversation's buyer profile. */
(function () {
  "use strict";
  const { fmt } = window.DXE;

  window.DXE.workspace.frames = function (ws) {
    const { cfg, S, me, state } = ws;

    function onEvent(ev) {
      const id = ev.conversation_id;
      const known = state.convs.has(id) || state.threads.has(id);
      if (ev.kind === "message.delivery") {
        if (ev.message) {
          const t = state.threads.get(id);
          if (t && t.messages.has(ev.message.seq)) t.messages.set(ev.message.seq, ev.message);
        }
        if (ev.conversation) ws.upsertConv(ev.conversation);
        if (id === state.activeId) ws.renderThread();
        return;
      }
      if (!ws.takeSeq(id, ev.seq, known)) return;
      if (ev.conversation) {
        const conv = ws.upsertConv(ev.conversation);
        ws.convChanged(conv);
        ws.historyChanged(conv);
        ws.alertIfNew(ev.conversation);
      }
      const t = state.threads.get(id);
      if (ev.kind === "message.created" && ev.message) {
        ws.addMessage(ev.message);
        const conv = state.convs.get(id);
        ws.alertIfMine(conv, ev.message);
        if (t && id === state.activeId) {
          ws.renderThread();
          if (ev.message.sender_kind === "buyer") ws.markRead(id);
        }
        if (ev.message.sender_kind === "buyer" && state.typing.has(id)) {
          state.typing.delete(id);
          if (id === state.activeId) ws.renderTyping();
        }
        if (ev.message.sender_kind === "agent" && !ev.message.is_private && ev.message.author && ev.message.author.id !== me.id) {
          ws.onPeerFrame({ type: "typing", conversation_id: id, user_id: ev.message.author.id, is_typing: false });
        }
        if (conv && ev.message.sender_kind === "buyer" && id !== state.activeId) ws.renderList();
      } else if (t) {
        if (ev.kind !== "conversation.read") t.events.set(ev.seq, { seq: ev.seq, kind: ev.kind.replace("conversation.", ""), data: ev.data || {}, actor: ev.actor || null });
        if (id === state.activeId) ws.renderThread();
      }
    }

    /** Coalesced list rows of conversations that changed (ours come as events too). */
    function onRows(rows) {
      let buyerStarted = false; // the buyer of the side panel opened a new conversation
      for (const row of rows) {
        if (!state.convs.has(row.id) && state.customer && row.customer && row.customer.id === state.customer.id) buyerStarted = true;
        const conv = ws.upsertConv(row, "row");
        if (ws.matchesFilter(conv) && !state.q) state.listed.add(conv.id);
        else if (!state.q && conv.id !== state.activeId) state.listed.delete(conv.id);
        ws.historyChanged(conv);
        ws.alertIfNew(row);
      }
      ws.renderList();
      if (rows.some((row) => row.id === state.activeId)) ws.renderThreadHeader();
      if (buyerStarted && state.activeId !== null) ws.loadHistory(state.activeId, { live: true });
    }

    function onFrame(frame) {
      switch (frame.type) {
        case "hello": {
          state.hellos += 1;
          for (const shop of frame.shops || []) state.online.set(shop.id, new Set(shop.online_user_ids || []));
          ws.showList();
          ws.watchThreads();
          state.viewingSent = null; // a new socket: nobody has heard this one yet
          ws.announceViewing();
          ws.resync(state.threads.keys());
          for (const t of state.threads.values()) t.readSent = 0;
          state.outbox.flush(true);
          if (state.hellos > 1) {
            ws.reloadList();
            ws.retryActive();
            ws.refreshDeliveries();
          }
          if (state.activeId !== null) ws.markRead(state.activeId);
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
            ws.addMessage(frame.message);
            if (frame.message.conversation_id === state.activeId) ws.renderThread();
          }
          state.outbox.delete(frame.client_msg_id);
          break;
        case "resync.done":
          ws.raiseHeld(frame.conversation_id, frame.last_seq);
          if (frame.more) ws.resync([frame.conversation_id]);
          if (frame.conversation_id === state.activeId) ws.markRead(state.activeId);
          break;
        case "viewing":
          ws.onPeerFrame(frame);
          break;
        case "typing":
          if (frame.side === "agent") ws.onPeerFrame(frame);
          else if (frame.side === "buyer") {
            if (frame.is_typing) state.typing.set(frame.conversation_id, { name: frame.name, until: Date.now() + 6000 });
            else state.typing.delete(frame.conversation_id);
            if (frame.conversation_id === state.activeId) ws.renderTyping();
            if (state.listed.has(frame.conversation_id)) ws.renderList();
          }
          break;
        case "error": {
          const ref = frame.ref;
          const entry = ref && state.outbox.get(ref);
          if (entry) {
            ws.failPending(entry.convId, ref, frame.message);
            ws.toast(fmt(S.sendFailed, { message: frame.message }), "error");
          } else if (!["rate_limited", "not_found"].includes(frame.code) && !["typing", "read", "resync"].includes(ref)) {
            ws.toast(frame.message || S.error, "error");
          }
          break;
        }
        case "customer.updated":
          if (frame.customer) ws.onCustomer(frame.customer);
          break;
        case "customer.orders":
          if (state.customer && state.customer.id === frame.customer_id) ws.loadOrders(frame.customer_id, { live: true });
          break;
        case "presence": {
          for (const shop of cfg.shops) {
            const online = state.online.get(shop.id);
            if (!online) continue;
            if (frame.online) online.add(frame.user_id);
            else online.delete(frame.user_id);
          }
          const conv = state.convs.get(state.activeId);
          if (conv) ws.fillAssignSelect(conv);
          break;
        }
        default:
          break;
      }
    }

    Object.assign(ws, { onFrame });
  };
})();
