/* The agent workspace's boot (loaded last): builds the shared context, installs the modules,
 * runs the one-second clock and starts: the first list page, the socket, then the
 * conversation named in the address (?c=). */
(function () {
  "use strict";
  const { duration, workspace } = window.DXE;

  const ws = workspace.context();
  const { state, els, peers } = ws;
  // Each module adds its functions to `ws` and wires its own elements; they call one another
  // through `ws`, at run time only. This order keeps each event's listeners in their old order.
  for (const install of [
    workspace.ui,
    workspace.seq,
    workspace.alerts,
    workspace.connection,
    workspace.overlays,
    workspace.list,
    workspace.listKeys,
    workspace.messages,
    workspace.thread,
    workspace.header,
    workspace.snooze,
    workspace.side,
    workspace.sideLists,
    workspace.composer,
    workspace.send,
    workspace.frames,
    workspace.shortcuts,
  ]) {
    install(ws);
  }

  // Wait timers tick, a buyer's typing that went quiet ends, other agents' presence expires.
  window.setInterval(() => {
    const now = Date.now();
    for (const el of els.list.querySelectorAll(".wait[data-since]")) {
      const ms = now - Date.parse(el.dataset.since);
      el.textContent = duration(ms);
      el.className = ws.waitClass(ms);
    }
    let changed = false;
    for (const [id, t] of state.typing) {
      if (t.until < now) {
        state.typing.delete(id);
        changed = true;
      }
    }
    if (changed) {
      ws.renderList();
      ws.renderTyping();
    }
    if (peers.prune(now).has(state.activeId)) ws.renderPeers();
  }, 1000);

  async function start() {
    ws.showAlertToggles();
    for (const tab of els.tabs) {
      const on = tab.dataset.view === state.view;
      tab.classList.toggle("is-active", on);
      tab.setAttribute("aria-selected", on ? "true" : "false");
    }
    await ws.loadList(true);
    ws.socket.start();
    const wanted = Number(new URLSearchParams(location.search).get("c"));
    if (wanted) {
      if (!state.convs.has(wanted)) {
        try {
          ws.upsertConv(await ws.api(`conversations/${wanted}/`), "rest");
        } catch (err) {
          return;
        }
      }
      ws.selectConversation(wanted);
    }
  }
  start();
})();
