/* The side panel's buyer profile: loading and showing it, and editing its VIP level, tags
 * and notes. Each edit is sent for the buyer it was made for, one after another; tags are
 * added and taken off one at a time, so agents tagging one buyer at once keep each other's. */
(function () {
  "use strict";
  const { h, fmt, timeLabel } = window.DXE;

  window.DXE.workspace.side = function (ws) {
    const { S, state, els } = ws;

    /** Show the buyer of `conv`. `live`: the panel shows them already and they are read again
     * (back online: edits made meanwhile arrive), so nothing blanks while it loads. */
    async function loadCustomer(conv, { live = false } = {}) {
      if (!conv || !conv.customer) return;
      const customerId = conv.customer.id;
      if (!live) {
        els.sideEmpty.hidden = true;
        els.side.hidden = false;
        renderCustomer(Object.assign({}, conv.customer, { loading: true }));
      }
      try {
        const customer = await ws.api(`customers/${customerId}/`);
        if (!state.convs.get(state.activeId) || state.convs.get(state.activeId).customer.id !== customerId) return;
        renderCustomer(customer);
      } catch (err) {
        /* the brief row data stays */
      }
      ws.loadOrders(customerId, { live });
      ws.loadHistory(conv.id, { live });
    }

    function renderCustomer(c) {
      state.customer = c;
      const name = ws.customerName(c);
      els.custName.textContent = name;
      ws.paintAvatar(els.custAvatar, name, c.id);
      els.custBuyerId.textContent = c.platform_buyer_id || "";
      els.custPhone.textContent = c.masked_phone || "—";
      els.custPhone.classList.toggle("mono", Boolean(c.masked_phone)); // the mask in monospace; the "—" as in the other rows
      els.custRealName.textContent = c.name || "—";
      els.custLastContact.textContent = c.last_contact_at ? timeLabel(c.last_contact_at) : "—";
      if (!els.custVip.options.length) {
        for (let i = 0; i <= 10; i++) els.custVip.append(h("option", { value: i }, i === 0 ? "—" : fmt(S.vip, { level: i })));
      }
      els.custVip.value = String(c.vip_level || 0);
      renderTags(c);
      renderNotes(c);
      els.notesState.textContent = "";
    }

    function renderTags(c) {
      els.custTags.replaceChildren(
        ...(c.tags || []).map((name) =>
          h("span", { class: "tag" }, name, h("button", { type: "button", class: "tag-x", "aria-label": `× ${name}`, onclick: () => removeTag(c.id, name) }, "×"))
        )
      );
    }

    // The notes box as filled for one buyer: `saved` is their notes as last loaded or sent (the
    // box is edited while its value differs), `sending` its saves not yet answered (the box
    // then keeps its text over older copies of the profile). Another buyer's box starts anew;
    // an edit still in the old one is first sent to the buyer it was typed for.
    let notesBox = { customerId: null, saved: "", sending: 0 };

    function renderNotes(c) {
      if (notesBox.customerId !== c.id) {
        saveNotes();
        notesBox = { customerId: c.id, saved: "", sending: 0 };
        els.notes.value = "";
      }
      // The brief row data has no notes: the box waits for the profile instead of being typed into.
      els.notes.readOnly = c.notes === undefined;
      if (c.notes === undefined || els.notes.value !== notesBox.saved || notesBox.sending) return;
      notesBox.saved = c.notes;
      if (els.notes.value !== c.notes) els.notes.value = c.notes;
    }

    /** Send the notes box's edit to the buyer it was typed for, unless unchanged. */
    async function saveNotes() {
      const box = notesBox;
      const value = els.notes.value;
      if (box.customerId === null || value === box.saved) return;
      const before = box.saved;
      box.saved = value;
      box.sending += 1;
      // keepalive: a save asked for as the page goes away still reaches the server.
      const updated = await edit(box.customerId, "", { method: "PATCH", json: { notes: value }, keepalive: true });
      box.sending -= 1;
      if (box !== notesBox) return;
      if (updated) els.notesState.textContent = S.saved;
      else if (box.saved === value) box.saved = before; // not saved: the box is still edited
    }

    /** An edit of one buyer's profile (`path` under customers/<id>/), for the buyer it was asked
     * for whichever the panel shows when it runs. Edits run one after another, in order. */
    let saving = Promise.resolve();
    function edit(customerId, path, options) {
      const run = saving.then(async () => {
        try {
          const updated = await ws.api(`customers/${customerId}/${path}`, options);
          onCustomer(updated);
          return updated;
        } catch (err) {
          ws.toast(fmt(S.saveFailed, { message: err.message }), "error");
          return null;
        }
      });
      saving = run;
      return run;
    }

    const addTag = (customerId, name) => edit(customerId, "tags/", { method: "POST", json: { name } });
    const removeTag = (customerId, name) => edit(customerId, `tags/?name=${encodeURIComponent(name)}`, { method: "DELETE" });

    /** A profile changed, here or by another agent (``customer.updated``): the side panel, if
     * it shows the buyer, and the list rows' brief customer (name, tags, VIP show there). */
    function onCustomer(updated) {
      if (state.customer && state.customer.id === updated.id) renderCustomer(Object.assign({}, state.customer, updated));
      let shown = false;
      for (const conv of state.convs.values()) {
        if (conv.customer && conv.customer.id === updated.id) {
          conv.customer = Object.assign({}, conv.customer, { nickname: updated.nickname, vip_level: updated.vip_level, tags: updated.tags });
          shown = true;
        }
      }
      if (!shown) return;
      ws.renderList();
      ws.renderThreadHeader();
    }

    els.custVip.addEventListener("change", () => {
      if (state.customer) edit(state.customer.id, "", { method: "PATCH", json: { vip_level: Number(els.custVip.value) } });
    });
    els.tagForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = els.tagInput.value.trim();
      const c = state.customer;
      if (!name || !c || (c.tags || []).includes(name)) return;
      els.tagInput.value = "";
      const saved = await addTag(c.id, name);
      if (!saved && state.customer && state.customer.id === c.id && !els.tagInput.value) els.tagInput.value = name; // refused: give it back
    });
    els.notes.addEventListener("blur", saveNotes);
    els.notes.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        els.notes.blur();
      } else if (e.key === "Escape") {
        els.notes.value = notesBox.saved;
        els.notes.blur();
      }
    });
    // Notes typed but not yet saved by leaving the box are saved as the page is hidden or goes.
    window.addEventListener("pagehide", saveNotes);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") saveNotes();
    });

    Object.assign(ws, { loadCustomer, onCustomer });
  };
})();
