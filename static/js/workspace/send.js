/* Sending: text and notes over the socket, images over HTTP. Each shows pending until
 * acknowledged, stays in the outbox to be resent on reconnect, and is marked failed when
 * refused: retried on demand, or, refused for good (DXE.refusedForGood), only removed. */
(function () {
  "use strict";
  const { fmt, uuid, refusedForGood } = window.DXE;

  window.DXE.workspace.send = function (ws) {
    const { S, me, state, els, store } = ws;

    function sendText() {
      const id = state.activeId;
      const text = els.input.value.trim();
      if (id === null || !text) return;
      const note = els.composer.dataset.mode === "note";
      const cmid = uuid();
      const frame = { type: note ? "note" : "send", client_msg_id: cmid, conversation_id: id, text };
      const local = {
        client_msg_id: cmid,
        conversation_id: id,
        sender_kind: "agent",
        author: { id: me.id, nickname: me.nickname },
        text,
        is_private: note,
        attachments: [],
        created_at: new Date().toISOString(),
        _pending: true,
      };
      ws.thread(id).pending.set(cmid, local);
      state.outbox.sendFrame(cmid, frame, { convId: id });
      ws.stopTyping();
      els.input.value = "";
      state.drafts.delete(id);
      store.set(ws.draftKey(id), null);
      ws.renderThread({ forceBottom: true });
    }

    function sendImages(files) {
      const id = state.activeId;
      if (id === null || !files.length) return;
      if (els.composer.dataset.mode === "note") {
        ws.toast(S.noteImagesUnsupported, "error");
        return;
      }
      const cmid = uuid();
      const previewUrls = files.map((f) => URL.createObjectURL(f));
      const local = {
        client_msg_id: cmid,
        conversation_id: id,
        sender_kind: "agent",
        author: { id: me.id, nickname: me.nickname },
        text: "",
        is_private: false,
        attachments: previewUrls.map((url, i) => ({ url, local: true, name: files[i].name })),
        previewUrls,
        files, // kept for a retry
        created_at: new Date().toISOString(),
        _pending: true,
      };
      ws.thread(id).pending.set(cmid, local);
      state.outbox.set(cmid, { convId: id, files });
      ws.renderThread({ forceBottom: true });
      upload(cmid);
    }

    async function upload(cmid) {
      const entry = state.outbox.get(cmid);
      if (!entry || !entry.files || entry.uploading) return;
      entry.uploading = true;
      const form = new FormData();
      for (const file of entry.files) form.append("images", file, file.name || "image.png");
      form.append("client_msg_id", cmid);
      try {
        const message = await ws.api(`conversations/${entry.convId}/messages/`, { method: "POST", body: form });
        ws.addMessage(message);
        if (entry.convId === state.activeId) ws.renderThread();
      } catch (err) {
        if (err instanceof ws.ApiError) {
          failPending(entry.convId, cmid, err.message, refusedForGood(err.status));
          ws.toast(fmt(S.uploadFailed, { message: err.message }), "error");
        }
      } finally {
        entry.uploading = false;
      }
    }

    /** Mark a send failed: `refused` when retrying cannot help, so it is offered to be removed. */
    function failPending(convId, cmid, error, refused) {
      state.outbox.delete(cmid);
      const t = state.threads.get(convId);
      const local = t && t.pending.get(cmid);
      if (local) {
        local._pending = false;
        local._failed = true;
        local._refused = Boolean(refused);
        local._error = error;
        if (convId === state.activeId) ws.renderThread();
      }
    }

    function retrySend(local) {
      local._failed = false;
      local._pending = true;
      const cmid = local.client_msg_id;
      if (local.files) {
        state.outbox.set(cmid, { convId: local.conversation_id, files: local.files });
        upload(cmid);
        ws.renderThread();
        return;
      }
      const frame = { type: local.is_private ? "note" : "send", client_msg_id: cmid, conversation_id: local.conversation_id, text: local.text };
      state.outbox.sendFrame(cmid, frame, { convId: local.conversation_id });
      ws.renderThread();
    }

    function dismissSend(local) {
      ws.thread(local.conversation_id).pending.delete(local.client_msg_id);
      if (local.previewUrls) local.previewUrls.forEach((u) => URL.revokeObjectURL(u));
      ws.renderThread();
    }

    Object.assign(ws, { sendText, sendImages, upload, failPending, retrySend, dismissSend });
  };
})();
