/* New-chat alerts: what deserves one (a new unassigned conversation, a buyer writing in a
 * conversation of mine that I am not looking at) and the header toggles; DXE.Alerts
 * (static/js/alerts.js) chimes and notifies. */
(function () {
  "use strict";
  const { fmt } = window.DXE;

  window.DXE.workspace.alerts = function (ws) {
    const { cfg, S, me, state, els, store } = ws;

    const alerts = new window.DXE.Alerts(store, showAlertToggles);
    const pageStart = Date.parse(cfg.serverTime);
    const alertedNew = new Set(); // conversations already announced as new
    const newerThanPage = (iso) => Date.parse(iso) > pageStart;

    function showAlertToggles() {
      els.soundToggle.setAttribute("aria-pressed", String(alerts.sound));
      els.desktopToggle.setAttribute("aria-pressed", String(alerts.desktop));
    }

    /** A conversation started since this page loaded and waiting in the unassigned queue;
     * announced with its first message (its row may come first without one). */
    function alertIfNew(conv) {
      if (conv.assignee || conv.status === "resolved" || alertedNew.has(conv.id) || !newerThanPage(conv.created_at)) return;
      if (!conv.last_message_preview) return;
      alertedNew.add(conv.id);
      alerts.alert({
        title: fmt(S.alertNewConversation, { name: ws.buyerName(conv) }),
        body: conv.last_message_preview,
        tag: `dxe-conversation-${conv.id}`,
        event: `new-${conv.id}`,
        onClick: () => ws.selectConversation(conv.id),
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
        title: ws.buyerName(conv),
        body: message.text || S.image,
        tag: `dxe-conversation-${conv.id}`,
        event,
        onClick: () => ws.selectConversation(conv.id),
      });
    }

    els.soundToggle.addEventListener("click", () => {
      alerts.setSound(!alerts.sound);
      showAlertToggles();
    });
    els.desktopToggle.addEventListener("click", async () => {
      const result = await alerts.setDesktop(!alerts.desktop);
      if (result === "denied") ws.toast(S.notificationsBlocked, "error");
      else if (result === "unsupported") ws.toast(S.notificationsUnsupported, "error");
      showAlertToggles();
    });

    Object.assign(ws, { showAlertToggles, alertIfNew, alertIfMine });
  };
})();
