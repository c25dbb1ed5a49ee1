/* The side panel's paged lists: the buyer's orders and their other conversations
 * (历史会话), each with a "more" item while there are further pages. */
(function () {
  "use strict";
  const { h, timeLabel } = window.DXE;

  window.DXE.workspace.sideLists = function (ws) {
    const { S, me, state, els } = ws;

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
        const body = await ws.api(`orders/?customer=${customerId}`);
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
          const body = await ws.api(next);
          if (!how.shown() || !item.isConnected) return;
          item.replaceWith(...(body.results || []).map(how.row), ...moreItem(body.next, how));
        } catch (err) {
          button.disabled = false;
          ws.toast(how.failed, "error");
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
              ws.upsertConv(conv, "rest");
              ws.selectConversation(conv.id);
            },
          },
          h("span", { class: "history-top" }, h("time", { datetime: conv.created_at }, timeLabel(conv.created_at)), h("span", { class: `pill pill-${conv.status}` }, ws.statusLabel(conv.status))),
          h("span", { class: "history-preview" }, conv.last_message_preview || "\u00a0"),
          h("span", { class: "history-meta" }, [ws.channelLabel(conv.channel), assignee].join(" · "))
        )
      );
    }

    /** A conversation the panel lists changed live: its row shows it (status, preview, assignee). */
    function historyChanged(conv) {
      const shown = els.history.querySelector(`[data-testid=history-conversation][data-id="${conv.id}"]`);
      if (shown) shown.parentElement.replaceWith(historyRow(conv));
    }

    /** The open conversation's buyer's other conversations, newest first, a page at a time. */
    async function loadHistory(convId, { live = false } = {}) {
      const shown = () => state.activeId === convId;
      if (!live) els.history.replaceChildren(h("li", { class: "muted" }, S.loading));
      try {
        const body = await ws.api(`conversations/${convId}/others/?page_size=${HISTORY_PAGE}`);
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

    Object.assign(ws, { loadOrders, loadHistory, historyChanged });
  };
})();
