/* How a thread's items look: message bubbles with their images and read or platform
 * delivery state (and retrying a failed delivery), and the event lines (assigned, status,
 * the buyer's rating). */
(function () {
  "use strict";
  const { h, fmt, timeLabel, linkify } = window.DXE;

  window.DXE.workspace.messages = function (ws) {
    const { cfg, S, me, state } = ws;

    function memberName(shopId, userId) {
      if (userId === null || userId === undefined) return S.unassigned;
      if (userId === me.id) return me.nickname;
      const list = state.membersResolved.get(shopId);
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
        const status = ws.statusLabel(data.to);
        if (data.reason === "buyer_returned") return S.buyerReturned;
        if (data.reason === "buyer_message") return S.wokeByBuyer;
        if (data.reason === "snooze_ended") return S.snoozeEnded;
        if (data.until) {
          const time = timeLabel(data.until);
          return actor ? fmt(S.snoozedBy, { actor, time }) : fmt(S.snoozedLine, { time });
        }
        return actor ? fmt(S.statusChanged, { actor, status }) : fmt(S.statusChangedLine, { status });
      }
      if (e.kind === "created") return S.created;
      if (e.kind === "rated") {
        const rating = ws.ratingLabel(data.score);
        return data.comment ? fmt(S.ratedWithComment, { rating, comment: data.comment }) : fmt(S.rated, { rating });
      }
      return null; // read receipts show on the messages, not as lines
    }

    function imageEls(attachments) {
      if (!attachments || !attachments.length) return null;
      return h(
        "div",
        { class: "msg-images" },
        attachments.map((a) => {
          const src = a.url;
          const ratio = a.width && a.height ? `${a.width} / ${a.height}` : null;
          const el = h(
            "button",
            { type: "button", class: "msg-image", title: S.openImage, onclick: () => ws.openLightbox(src) },
            h("img", { src, alt: S.image, loading: "lazy", style: ratio ? `aspect-ratio: ${ratio}` : null, dataset: { testid: "message-image" } })
          );
          // A picked file the browser cannot show (not an image after all) is named instead.
          const named = () => el.replaceWith(h("span", { class: "msg-file", dataset: { testid: "message-file" } }, a.name));
          if (a.local) el.firstChild.addEventListener("error", named);
          return el;
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
      if (convId === state.activeId) ws.renderThread();
      try {
        const message = await ws.api(`messages/${m.id}/retry/`, { method: "POST", json: {} });
        if (t.messages.get(seq) === m) t.messages.set(seq, message);
      } catch (err) {
        m._retrying = false;
        ws.toast(err.message, "error");
      }
      if (convId === state.activeId) ws.renderThread();
    }

    function messageStatus(conv, m) {
      if (m._failed) {
        return h(
          "span",
          { class: "msg-state is-failed" },
          `${S.failed}${m._error ? `: ${m._error}` : ""} `,
          m._refused
            ? h("button", { type: "button", class: "link", dataset: { testid: "dismiss" }, onclick: () => ws.dismissSend(m) }, S.remove)
            : h("button", { type: "button", class: "link", dataset: { testid: "retry" }, onclick: () => ws.retrySend(m) }, S.retry)
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
            : ws.buyerName(conv);
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

    Object.assign(ws, { eventLine, messageEl });
  };
})();
