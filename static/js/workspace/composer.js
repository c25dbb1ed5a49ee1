/* The composer: per-conversation drafts (kept in localStorage), reply or note mode, the
 * typing indicator the buyer sees, and its keys, paste and image pick. */
(function () {
  "use strict";

  window.DXE.workspace.composer = function (ws) {
    const { S, me, state, els, store } = ws;

    const draftKey = (id) => `dxe.draft.${me.id}.${id}`;

    /** A draft is stored with its mode: a note that came back as a reply would go to the buyer. */
    function saveDraft() {
      const id = state.activeId;
      if (id === null) return;
      const text = els.input.value;
      state.drafts.set(id, text);
      store.set(draftKey(id), text ? JSON.stringify({ text, mode: els.composer.dataset.mode }) : null);
    }

    function storedDraft(id) {
      const raw = store.get(draftKey(id), "");
      try {
        const draft = JSON.parse(raw);
        if (draft && typeof draft.text === "string") return { text: draft.text, mode: draft.mode === "reply" ? "reply" : "note" };
      } catch (err) {
        /* plain text: a draft saved before modes were */
      }
      // Its mode unknown: a note is the side on which nothing reaches the buyer by mistake.
      return { text: raw, mode: raw ? "note" : "reply" };
    }

    function restoreDraft() {
      const id = state.activeId;
      const draft = state.drafts.has(id) ? { text: state.drafts.get(id), mode: state.modes.get(id) || "reply" } : storedDraft(id);
      els.input.value = draft.text;
      setMode(draft.mode);
    }

    function setMode(mode) {
      els.composer.dataset.mode = mode;
      if (state.activeId !== null) {
        state.modes.set(state.activeId, mode);
        saveDraft();
      }
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
        if (ws.socket.send({ type: "typing", conversation_id: state.activeId, is_typing: true })) {
          typingSentAt = now;
          typingConv = state.activeId;
        }
      }
      window.clearTimeout(typingTimer);
      typingTimer = window.setTimeout(stopTyping, 4000);
    }

    function stopTyping() {
      window.clearTimeout(typingTimer);
      if (typingConv !== null) ws.socket.send({ type: "typing", conversation_id: typingConv, is_typing: false });
      typingConv = null;
      typingSentAt = 0;
    }

    els.composer.addEventListener("submit", (e) => {
      e.preventDefault();
      ws.sendText();
    });
    for (const b of els.composer.querySelectorAll(".mode")) b.addEventListener("click", () => {
      setMode(b.dataset.mode);
      els.input.focus();
    });
    els.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        ws.sendText();
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
        ws.sendImages(files);
      }
    });
    els.imageInput.addEventListener("change", () => {
      const files = Array.from(els.imageInput.files || []);
      els.imageInput.value = "";
      ws.sendImages(files);
    });

    window.addEventListener("beforeunload", saveDraft);

    Object.assign(ws, { draftKey, saveDraft, restoreDraft, setMode, stopTyping });
  };
})();
