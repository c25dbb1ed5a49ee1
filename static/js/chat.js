/* The buyer's chat page: history by resync from seq 0, live replies, typing, read receipts,
 * images (pick or paste), the 满意度 survey after a resolve, and a socket that reconnects and
 * retries unacknowledged sends with their original client_msg_id (the server returns the
 * stored message for a retry). */
(function () {
  "use strict";
  const { h, fmt, uuid, timeLabel, linkify, refusedForGood } = window.DXE;
  const cfg = window.DXE.config();
  const S = cfg.strings;
  const token = cfg.token;

  const els = {
    body: document.getElementById("chat-body"),
    messages: document.getElementById("messages"),
    typing: document.getElementById("typing"),
    form: document.getElementById("composer"),
    input: document.getElementById("input"),
    image: document.getElementById("image-input"),
    connDot: document.getElementById("conn-dot"),
    connText: document.getElementById("conn-text"),
    staffed: document.getElementById("staffed"),
    lightbox: document.getElementById("lightbox"),
    lightboxImg: document.getElementById("lightbox-img"),
    older: document.getElementById("older"),
  };

  // A resolved conversation is followed by a new one with its own seq numbers, so history is
  // keyed by (conversation, seq) and read/held state is kept per conversation.
  const state = {
    messages: new Map(), // "conv:seq" -> message
    statuses: new Map(), // conversation id -> its latest status change {seq, to, at}
    ratings: new Map(), // "conv:seq" -> the buyer's rating recorded there {convId, seq, score}
    pending: new Map(), // client_msg_id -> local message
    outbox: new window.DXE.Outbox((frame) => socket.send(frame), (cmid) => upload(cmid)), // {frame} | {file}
    held: new Map(), // conversation id -> highest seq applied
    agentRead: new Map(), // conversation id -> the shop has read the buyer's messages up to here
    readSent: 0,
    conversationId: null,
    socketConv: null, // the conversation the socket follows (gets live events of)
    typingUntil: 0,
    typingName: "",
    // The oldest conversation shown and the one before it (offered by "earlier messages").
    earliest: null, // {id, previousId}
    loadingOlder: null, // the conversation id asked for, until its resync.done
  };
  // In the shop's widget the page stays loaded while its panel is closed: replies are read
  // only while the widget says the panel shows, and the widget hears how many are unread.
  const embedded = window.parent !== window && document.body.classList.contains("is-embedded");
  let panelOpen = !embedded;
  let unreadTold = 0;
  const seen = () => panelOpen && document.visibilityState === "visible";

  const key = (convId, seq) => `${convId}:${seq}`;
  const heldOf = (convId) => state.held.get(convId) || 0;
  function hold(convId, seq) {
    if (convId !== null && convId !== undefined && seq > heldOf(convId)) state.held.set(convId, seq);
  }
  // Only ever forward: older conversations' history arriving must not move the page back.
  function follow(convId) {
    if (!convId || convId <= (state.conversationId || 0)) return;
    state.conversationId = convId;
    state.readSent = 0;
  }
  const order = (convId, seq) => [convId || Number.MAX_SAFE_INTEGER, seq || 0];
  const before = (a, b) => a[0] - b[0] || a[1] - b[1];

  function nearBottom() {
    const b = els.body;
    return b.scrollHeight - b.scrollTop - b.clientHeight < 80;
  }

  function statusEl(m) {
    if (m._failed && m._refused)
      return h(
        "span",
        { class: "msg-state is-refused", dataset: { testid: "send-refused" } },
        `${S.notSent} · ${m._error} `,
        h("button", { type: "button", class: "msg-remove", onclick: () => dismiss(m), dataset: { testid: "dismiss" } }, S.remove)
      );
    if (m._failed)
      return h("button", { type: "button", class: "msg-state is-failed", onclick: () => retry(m), title: m._error || "" }, m._error ? `${S.failed} · ${m._error}` : S.failed);
    if (m._pending) return h("span", { class: "msg-state is-pending", dataset: { testid: "pending" } }, S.pending);
    const read = m.seq <= (state.agentRead.get(m.conversation_id) || 0);
    return h("span", { class: `msg-state ${read ? "is-read" : "is-unread"}`, dataset: { testid: "read-state" } }, read ? S.read : S.unread);
  }

  function messageEl(m) {
    if (m.sender_kind === "system") return h("div", { class: "line" }, h("span", null, m.text));
    const mine = m.sender_kind === "buyer";
    const images = (m.attachments || []).map((a) => {
      const src = a.url;
      const ratio = a.width && a.height ? `aspect-ratio: ${a.width} / ${a.height}` : null;
      const el = h(
        "button",
        { type: "button", class: "msg-image", onclick: () => openLightbox(src) },
        h("img", { src, alt: S.image, style: ratio, dataset: { testid: "message-image" } })
      );
      // A picked file the browser cannot show (not an image after all) is named instead.
      const named = () => el.replaceWith(h("span", { class: "msg-file", dataset: { testid: "message-file" } }, a.name));
      if (a.local) el.firstChild.addEventListener("error", named);
      return el;
    });
    const who = mine ? null : m.sender_kind === "bot" ? S.agent : (m.author && m.author.nickname) || S.agent;
    return h(
      "div",
      {
        class: `msg ${mine ? "is-out" : "is-in"}${m._pending ? " is-pending" : ""}${m._failed ? " is-failed" : ""}`,
        dataset: { seq: m.seq || "", testid: "message", sender: m.sender_kind },
      },
      who ? h("div", { class: "msg-who" }, who) : null,
      h(
        "div",
        { class: "msg-bubble" },
        m.text ? h("div", { class: "msg-text", dataset: { testid: "message-text" } }, linkify(m.text)) : null,
        images.length ? h("div", { class: "msg-images" }, images) : null
      ),
      h("div", { class: "msg-foot" }, h("time", { datetime: m.created_at }, timeLabel(m.created_at)), mine ? statusEl(m) : null)
    );
  }

  // Nodes are reused while what they show is unchanged: live updates never reload an image.
  const nodes = new Map(); // key -> element (with _sig)
  function reuse(k, sig, make) {
    const old = nodes.get(k);
    if (old && old._sig === sig) return old;
    const el = make();
    el._sig = sig;
    nodes.set(k, el);
    return el;
  }
  const signature = (m) =>
    JSON.stringify([m.text, (m.attachments || []).map((a) => a.url), m._pending, m._failed, m._refused, m._error, m.author && m.author.nickname, m.seq <= (state.agentRead.get(m.conversation_id) || 0)]);

  // --- Rating (满意度): a survey after the ended line of the current conversation ---------

  const ratingLabel = (score) => cfg.ratingLabels[score] || String(score);
  const scoresBestFirst = Object.keys(cfg.ratingLabels)
    .map(Number)
    .sort((a, b) => b - a);
  let survey = null; // the survey shown: {el, setError, setSending}

  function addRating(convId, seq, score) {
    state.ratings.set(key(convId, seq), { convId, seq, score });
  }

  /** Until when a resolve at `at` (ISO 8601) may be rated; the server has the last word. */
  const ratingCloses = (at) => Date.parse(at) + cfg.ratingWindowSeconds * 1000;
  let surveyTimer = null;

  /** Render again as the survey's time runs out, so a page left open loses it by itself. */
  function closeSurveyAt(closes) {
    clearTimeout(surveyTimer);
    surveyTimer = setTimeout(render, Math.max(0, closes - Date.now()) + 100);
  }

  /** Whether the session that the conversation's last resolve ended is rated: a rating after it. */
  function ratedSince(convId, seq) {
    for (const r of state.ratings.values()) if (r.convId === convId && r.seq > seq) return true;
    return false;
  }

  function surveyEl(convId) {
    const name = `rating-${convId}`;
    const error = h("p", { class: "rating-error", role: "alert", dataset: { testid: "rating-error" } });
    const comment = h("textarea", {
      class: "rating-comment",
      rows: "2",
      maxlength: String(cfg.maxRatingComment),
      placeholder: S.ratingComment,
      "aria-label": S.ratingComment,
    });
    const submit = h("button", { type: "submit", class: "rating-submit" }, S.ratingSubmit);
    const choices = scoresBestFirst.map((score) =>
      h(
        "label",
        { class: "rating-choice" },
        h("input", { type: "radio", name, value: String(score), class: "visually-hidden", onchange: () => setError("") }),
        h("span", null, ratingLabel(score))
      )
    );
    const form = h(
      "form",
      {
        class: "rating",
        dataset: { testid: "rating-card" },
        onsubmit: (e) => {
          e.preventDefault();
          sendRating();
        },
      },
      h("fieldset", null, h("legend", null, S.ratingPrompt), h("div", { class: "rating-choices" }, choices)),
      comment,
      h("div", { class: "rating-foot" }, error, submit)
    );
    function setError(message) {
      error.textContent = message || "";
    }
    function setSending(sending) {
      submit.disabled = sending;
      submit.textContent = sending ? S.pending : S.ratingSubmit;
    }
    function sendRating() {
      const chosen = form.querySelector("input[type=radio]:checked");
      if (!chosen) return setError(S.ratingChoose);
      const frame = { type: "rate", conversation_id: convId, score: Number(chosen.value), comment: comment.value.trim() };
      if (!socket.send(frame)) return setError(S.offline);
      setError("");
      setSending(true);
    }
    survey = { el: form, setError, setSending };
    return form;
  }

  function onRateError(message) {
    if (!survey) return;
    survey.setSending(false);
    survey.setError(message || S.error);
  }

  function render() {
    const stick = nearBottom();
    const fromBottom = els.body.scrollHeight - els.body.scrollTop;
    const items = [];
    for (const m of state.messages.values())
      items.push([order(m.conversation_id, m.seq), `m${key(m.conversation_id, m.seq)}`, signature(m), () => messageEl(m)]);
    // One "ended" line per conversation, at its last resolve, while that resolve stands: a
    // reopen takes it away, a later resolve puts it at the new end.
    for (const [convId, change] of state.statuses) {
      if (change.to !== "resolved") continue;
      items.push([order(convId, change.seq), `l${key(convId, change.seq)}`, S.resolved, () => h("div", { class: "line" }, h("span", null, S.resolved))]);
      // The survey follows, until that session is rated or its time to rate has passed; only
      // in the conversation the buyer is in.
      if (convId === state.conversationId && !ratedSince(convId, change.seq) && ratingCloses(change.at) > Date.now()) {
        items.push([order(convId, change.seq + 0.5), `r${key(convId, change.seq)}`, "", () => surveyEl(convId)]);
        closeSurveyAt(ratingCloses(change.at));
      }
    }
    for (const r of state.ratings.values()) {
      const text = fmt(S.ratingThanks, { rating: ratingLabel(r.score) });
      items.push([order(r.convId, r.seq), `t${key(r.convId, r.seq)}`, text, () => h("div", { class: "line", dataset: { testid: "rating-thanks" } }, h("span", null, text))]);
    }
    items.sort((a, b) => before(a[0], b[0]));
    const wanted = items.map(([, k, sig, make]) => reuse(k, sig, make));
    for (const m of state.pending.values()) wanted.push(reuse(`p${m.client_msg_id}`, signature(m), () => messageEl(m)));
    const box = els.messages;
    wanted.forEach((node, i) => {
      if (box.children[i] !== node) box.insertBefore(node, box.children[i] || null);
    });
    while (box.children.length > wanted.length) box.lastElementChild.remove();
    const keep = new Set(wanted);
    for (const [k, el] of nodes) if (!keep.has(el)) nodes.delete(k);
    if (survey && !keep.has(survey.el)) survey = null;
    if (stick) els.body.scrollTop = els.body.scrollHeight;
    else if (state.loadingOlder) els.body.scrollTop = els.body.scrollHeight - fromBottom; // older ones go above: keep the reader's place
  }

  function noteEarliest(convId, previousId) {
    if (!convId || (state.earliest && convId > state.earliest.id)) return;
    state.earliest = { id: convId, previousId: previousId || null };
    els.older.hidden = !state.earliest.previousId;
  }

  function showOlder() {
    const previousId = state.earliest && state.earliest.previousId;
    if (!previousId || state.loadingOlder) return;
    if (socket.send({ type: "resync", conversation_id: previousId, last_seq: heldOf(previousId) })) {
      state.loadingOlder = previousId;
      els.older.disabled = true;
    }
  }

  function scrollToEnd() {
    els.body.scrollTop = els.body.scrollHeight;
  }

  function addMessage(m) {
    state.messages.set(key(m.conversation_id, m.seq), m);
    if (m.client_msg_id) {
      const local = state.pending.get(m.client_msg_id);
      if (local && local.previewUrl) URL.revokeObjectURL(local.previewUrl);
      state.pending.delete(m.client_msg_id);
      state.outbox.delete(m.client_msg_id);
    }
  }

  function markRead() {
    if (!seen()) return;
    let maxShop = 0;
    for (const m of state.messages.values())
      if (m.conversation_id === state.conversationId && m.sender_kind !== "buyer" && m.seq > maxShop) maxShop = m.seq;
    if (maxShop > state.readSent && socket.send({ type: "read", seq: maxShop })) state.readSent = maxShop;
  }

  function updateTitle() {
    let unread = 0;
    for (const m of state.messages.values())
      if (m.conversation_id === state.conversationId && m.sender_kind !== "buyer" && m.seq > state.readSent) unread += 1;
    const base = document.title.replace(/^\(\d+\) /, "");
    document.title = unread && !seen() ? `(${unread}) ${base}` : base;
    if (embedded && unread !== unreadTold) {
      unreadTold = unread;
      window.parent.postMessage({ dxe: "unread", count: unread }, "*"); // a count only: the shop's site may be any origin
    }
  }

  function onEvent(ev) {
    const convId = ev.conversation_id;
    hold(convId, ev.seq);
    if (ev.kind === "message.created" && ev.message) {
      follow(convId);
      const fresh = !state.messages.has(key(convId, ev.message.seq));
      addMessage(ev.message);
      if (fresh && ev.message.sender_kind !== "buyer") {
        state.typingUntil = 0;
        renderTyping();
      }
      render();
      markRead();
      updateTitle();
    } else if (ev.kind === "conversation.read") {
      const data = ev.data || {};
      if (data.side === "agent" && data.up_to_seq > (state.agentRead.get(convId) || 0)) {
        state.agentRead.set(convId, data.up_to_seq);
        render();
      } else if (data.side === "buyer" && convId === state.conversationId && data.up_to_seq > state.readSent) {
        state.readSent = data.up_to_seq;
        updateTitle();
      }
    } else if (ev.kind === "conversation.status") {
      // Live and resynced events may come in any order and twice: the latest seq decides.
      const latest = state.statuses.get(convId);
      if (!latest || ev.seq > latest.seq) {
        state.statuses.set(convId, { seq: ev.seq, to: (ev.data || {}).to, at: ev.at });
        render();
      }
    } else if (ev.kind === "conversation.rated") {
      addRating(convId, ev.seq, (ev.data || {}).score); // another tab's, or ours again
      render();
    }
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello": {
        // History since what we hold: the current conversation (seq 0 on a fresh page), and
        // the one we were in if another tab has moved the buyer on since.
        const previous = state.conversationId;
        state.socketConv = frame.conversation_id || null;
        showStaffed(frame.staffed);
        follow(frame.conversation_id);
        noteEarliest(frame.conversation_id, frame.previous_id);
        if (frame.conversation_id) socket.send({ type: "resync", conversation_id: frame.conversation_id, last_seq: heldOf(frame.conversation_id) });
        else socket.send({ type: "resync", last_seq: 0 });
        if (previous && previous !== frame.conversation_id) socket.send({ type: "resync", conversation_id: previous, last_seq: heldOf(previous) });
        if (state.loadingOlder) socket.send({ type: "resync", conversation_id: state.loadingOlder, last_seq: heldOf(state.loadingOlder) });
        state.outbox.flush(true);
        if (survey) survey.setSending(false); // a rating lost with the old socket may be sent again
        break;
      }
      case "event":
        if (frame.event) onEvent(frame.event);
        break;
      case "ack":
        if (frame.message) {
          state.socketConv = frame.message.conversation_id;
          follow(frame.message.conversation_id);
          addMessage(frame.message);
          render();
        }
        state.outbox.delete(frame.client_msg_id);
        break;
      case "resync.done":
        if (frame.conversation_id && frame.conversation_id === state.conversationId) state.socketConv = frame.conversation_id;
        if (frame.conversation_id) {
          hold(frame.conversation_id, frame.last_seq);
          noteEarliest(frame.conversation_id, frame.previous_id);
          if (frame.more) socket.send({ type: "resync", conversation_id: frame.conversation_id, last_seq: heldOf(frame.conversation_id) });
        }
        render();
        if (frame.conversation_id === state.loadingOlder && !frame.more) {
          state.loadingOlder = null;
          els.older.disabled = false;
        }
        markRead();
        updateTitle();
        break;
      case "staffed":
        showStaffed(frame.staffed);
        break;
      case "typing":
        if (frame.side === "agent") {
          state.typingUntil = frame.is_typing ? Date.now() + 6000 : 0;
          state.typingName = frame.name || "";
          renderTyping();
        }
        break;
      case "rated":
        addRating(frame.conversation_id, frame.seq, frame.score);
        render();
        break;
      case "error": {
        if (frame.ref === "rate") onRateError(frame.message);
        const local = frame.ref && state.pending.get(frame.ref);
        if (local) fail(local, frame.message);
        break;
      }
      default:
        break;
    }
  }

  function renderTyping() {
    const on = state.typingUntil > Date.now();
    const stick = nearBottom();
    els.typing.textContent = on ? fmt(S.agentTyping, { name: state.typingName || S.agent }) : "";
    els.typing.classList.toggle("is-on", on);
    if (on && stick) scrollToEnd();
  }
  window.setInterval(() => {
    if (state.typingUntil && state.typingUntil < Date.now()) {
      state.typingUntil = 0;
      renderTyping();
    }
  }, 1000);

  // Whether anyone of the shop is online to answer now: said beside the connection, and the
  // composer invites a message to be left when no one is.
  const typePlaceholder = els.input.placeholder;
  function showStaffed(staffed) {
    els.staffed.hidden = false;
    els.staffed.textContent = staffed ? S.staffed : S.unstaffed;
    els.staffed.classList.toggle("is-away", !staffed);
    els.input.placeholder = staffed ? typePlaceholder : S.leaveMessage;
  }

  function onState(s) {
    if (s !== "open") els.staffed.hidden = true; // known again from the next hello
    els.connDot.dataset.state = s === "open" ? "open" : s === "connecting" ? "connecting" : "offline";
    els.connText.textContent = s === "open" ? S.connected : s === "connecting" ? S.connecting : S.offline;
  }

  const socket = new window.DXE.ReconnectingSocket(window.DXE.wsUrl(`${cfg.ws}?t=${encodeURIComponent(token)}`), {
    onFrame,
    onState,
    onClose(code) {
      // 4403: the session token expired or was refused; a reload issues a new one.
      if (code === 4401 || code === 4403) {
        window.setTimeout(() => window.location.reload(), 2000);
        return "stop";
      }
      if (code === 4404) return "stop"; // the shop closed its web chat: retrying cannot help
      return null;
    },
  });
  window.dxeSocket = socket; // console and browser-test hook: dxeSocket.drop(ms)

  // --- Sending --------------------------------------------------------------------------

  function localMessage(cmid, fields) {
    return Object.assign(
      { client_msg_id: cmid, sender_kind: "buyer", text: "", attachments: [], created_at: new Date().toISOString(), _pending: true },
      fields
    );
  }

  function sendText() {
    const text = els.input.value.trim();
    if (!text) return;
    const cmid = uuid();
    const frame = { type: "send", client_msg_id: cmid, text };
    state.pending.set(cmid, localMessage(cmid, { text }));
    state.outbox.sendFrame(cmid, frame);
    stopTyping();
    els.input.value = "";
    autosize();
    render();
    scrollToEnd();
  }

  function sendImage(file) {
    if (!file) return;
    const cmid = uuid();
    const previewUrl = URL.createObjectURL(file);
    const local = localMessage(cmid, { attachments: [{ url: previewUrl, local: true, name: file.name }], previewUrl, _file: file });
    state.pending.set(cmid, local);
    if (file.size > cfg.maxImageBytes) {
      // Refused here rather than after a long upload on a phone connection.
      fail(local, fmt(S.tooLarge, { size: Math.ceil(file.size / 1048576), max: Math.floor(cfg.maxImageBytes / 1048576) }), true);
      return;
    }
    state.outbox.set(cmid, { file });
    render();
    scrollToEnd();
    upload(cmid);
  }

  async function upload(cmid) {
    const entry = state.outbox.get(cmid);
    if (!entry || !entry.file || entry.uploading) return;
    entry.uploading = true;
    const form = new FormData();
    form.append("image", entry.file, entry.file.name || "image.png");
    form.append("client_msg_id", cmid);
    try {
      const res = await fetch(cfg.upload, { method: "POST", body: form, headers: { "X-Dxe-Session": token }, credentials: "same-origin" });
      const body = await res.json().catch(() => null);
      if (res.ok && body) {
        follow(body.conversation_id);
        addMessage(body);
        render();
        // An upload that started a conversation does not move the socket to it: a resync
        // without conversation_id makes the server follow the buyer's current conversation.
        if (body.conversation_id !== state.socketConv) socket.send({ type: "resync", last_seq: heldOf(body.conversation_id) });
      } else {
        const local = state.pending.get(cmid);
        state.outbox.delete(cmid);
        if (local) fail(local, (body && body.error && body.error.message) || S.error, refusedForGood(res.status));
        if (res.status === 403) window.setTimeout(() => window.location.reload(), 2000);
      }
    } catch (err) {
      /* offline: retried on reconnect */
    } finally {
      entry.uploading = false;
    }
  }

  /** Mark a send failed: `refused` when retrying cannot help (see DXE.refusedForGood). */
  function fail(local, message, refused) {
    local._pending = false;
    local._failed = true;
    local._refused = Boolean(refused);
    local._error = message;
    state.outbox.delete(local.client_msg_id);
    render();
  }

  function dismiss(local) {
    state.pending.delete(local.client_msg_id);
    if (local.previewUrl) URL.revokeObjectURL(local.previewUrl);
    render();
  }

  function retry(local) {
    local._failed = false;
    local._pending = true;
    const cmid = local.client_msg_id;
    if (local.previewUrl) {
      // Re-upload is only possible while we still hold the file.
      const file = local._file;
      if (!file) {
        state.pending.delete(cmid);
        render();
        return;
      }
      state.outbox.set(cmid, { file });
      upload(cmid);
    } else {
      const frame = { type: "send", client_msg_id: cmid, text: local.text };
      state.outbox.sendFrame(cmid, frame);
    }
    render();
  }

  window.setInterval(() => {
    if (socket.isOpen()) state.outbox.flush(false);
  }, 2500);

  // --- Typing ---------------------------------------------------------------------------

  let typingSentAt = 0;
  let typingTimer = null;
  let typingOn = false;
  function noteTyping() {
    if (!els.input.value.trim()) return stopTyping();
    if (!typingOn || Date.now() - typingSentAt > 3000) {
      if (socket.send({ type: "typing", is_typing: true })) {
        typingOn = true;
        typingSentAt = Date.now();
      }
    }
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    window.clearTimeout(typingTimer);
    if (typingOn) socket.send({ type: "typing", is_typing: false });
    typingOn = false;
  }

  // --- Wiring ---------------------------------------------------------------------------

  function autosize() {
    els.input.style.height = "auto";
    els.input.style.height = `${Math.min(els.input.scrollHeight, 120)}px`;
  }

  function openLightbox(src) {
    els.lightboxImg.src = src;
    els.lightbox.hidden = false;
  }
  els.lightbox.addEventListener("click", () => (els.lightbox.hidden = true));
  els.older.addEventListener("click", showOlder);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") els.lightbox.hidden = true;
  });

  els.form.addEventListener("submit", (e) => {
    e.preventDefault();
    sendText();
    els.input.focus();
  });
  els.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendText();
    }
  });
  els.input.addEventListener("input", () => {
    autosize();
    noteTyping();
  });
  els.input.addEventListener("paste", (e) => {
    const files = Array.from((e.clipboardData && e.clipboardData.files) || []).filter((f) => f.type.startsWith("image/"));
    if (files.length) {
      e.preventDefault();
      files.forEach(sendImage);
    }
  });
  els.image.addEventListener("change", () => {
    const files = Array.from(els.image.files || []);
    els.image.value = "";
    files.forEach(sendImage);
  });
  document.addEventListener("visibilitychange", () => {
    markRead();
    updateTitle();
  });
  window.addEventListener("focus", markRead);
  window.addEventListener("message", (e) => {
    if (!embedded || e.source !== window.parent || !e.data || e.data.dxe !== "panel") return;
    panelOpen = Boolean(e.data.open);
    markRead();
    updateTitle();
  });

  socket.start();
})();
