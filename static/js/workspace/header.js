/* The thread's header: buyer, status, the assignee select and the actions (assign,
 * resolve, reopen); and the other agents on the open conversation, viewing or typing. */
(function () {
  "use strict";
  const { h, fmt } = window.DXE;

  window.DXE.workspace.header = function (ws) {
    const { cfg, S, me, state, els, peers } = ws;

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
    function announceViewing(ask = true) {
      const id = document.visibilityState === "visible" ? state.activeId : null;
      if (state.viewingSent !== null && state.viewingSent !== id) {
        ws.socket.send({ type: "viewing", conversation_id: state.viewingSent, viewing: false });
      }
      state.viewingSent = null;
      if (id !== null && ws.socket.send({ type: "viewing", conversation_id: id, viewing: true, ask })) state.viewingSent = id;
    }

    function onPeerFrame(frame) {
      if (frame.user_id === me.id) return; // this agent's other tab
      const id = frame.conversation_id;
      const changed = peers.take(frame, Date.now());
      if (frame.type === "viewing" && frame.ask && frame.viewing && id === state.viewingSent) {
        ws.socket.send({ type: "viewing", conversation_id: id, viewing: true, ask: false });
      }
      if (changed && id === state.activeId) renderPeers();
    }

    function renderThreadHeader() {
      const conv = state.convs.get(state.activeId);
      if (!conv) return;
      els.threadName.textContent = ws.buyerName(conv);
      ws.paintAvatar(els.threadAvatar, ws.buyerName(conv), conv.customer ? conv.customer.id : conv.id);
      const shop = cfg.shops.find((s) => s.id === conv.shop_id);
      els.threadMeta.textContent = [ws.channelLabel(conv.channel), cfg.shops.length > 1 && shop ? shop.name : null, `#${conv.id}`].filter(Boolean).join(" · ");
      els.threadStatus.textContent = ws.statusText(conv);
      els.threadStatus.className = `chip chip-${conv.status}`;
      const resolved = conv.status === "resolved";
      els.resolve.hidden = resolved;
      els.snooze.hidden = resolved;
      els.reopen.hidden = conv.status === "open";
      els.assignMe.hidden = !!(conv.assignee && conv.assignee.id === me.id);
      fillAssignSelect(conv);
    }

    async function membersOf(shopId) {
      if (!state.members.has(shopId)) {
        state.members.set(
          shopId,
          ws.api(`shops/${shopId}/members/`)
            .then((body) => {
              const list = body.results || [];
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

    /** Assign as this tab saw the conversation: if someone changed its assignee meanwhile, the
     * server refuses (409) and the tab shows who has it now instead of overruling them. */
    async function assign(id, assigneeId) {
      const seen = state.convs.get(id);
      const expected = seen && seen.assignee ? seen.assignee.id : null;
      try {
        const conv = await ws.api(`conversations/${id}/assign/`, { method: "POST", json: { assignee_id: assigneeId, expected_assignee_id: expected } });
        ws.convChanged(ws.upsertConv(conv));
      } catch (err) {
        ws.toast(err.message, "error");
        if (err.status === 409) {
          try {
            ws.convChanged(ws.upsertConv(await ws.api(`conversations/${id}/`), "rest"));
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
          const conv = await ws.api(`conversations/${state.activeId}/${action}/`, { method: "POST", json: {} });
          ws.convChanged(ws.upsertConv(conv));
        } catch (err) {
          ws.toast(err.message, "error");
        }
      });
    }

    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && state.activeId !== null) ws.markRead(state.activeId);
      announceViewing();
    });

    Object.assign(ws, { renderPeers, announceViewing, onPeerFrame, renderThreadHeader, fillAssignSelect });
  };
})();
