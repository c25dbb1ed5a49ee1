/* The side panel's buyer profile: loading and showing it, and editing its VIP level, tags
 * and notes (saves run one after another so quick edits never undo each other). */
(function () {
  "use strict";
  const { h, fmt, timeLabel } = window.DXE;

  window.DXE.workspace.side = function (ws) {
    const { S, state, els } = ws;

    async function loadCustomer(conv) {
      if (!conv || !conv.customer) return;
      const customerId = conv.customer.id;
      els.sideEmpty.hidden = true;
      els.side.hidden = false;
      renderCustomer(Object.assign({}, conv.customer, { loading: true }));
      try {
        const customer = await ws.api(`customers/${customerId}/`);
        if (!state.convs.get(state.activeId) || state.convs.get(state.activeId).customer.id !== customerId) return;
        renderCustomer(customer);
      } catch (err) {
        /* the brief row data stays */
      }
      ws.loadOrders(customerId);
      ws.loadHistory(conv.id);
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
      renderTags(c.tags || []);
      if (document.activeElement !== els.notes) {
        els.notes.value = c.notes || "";
        els.notes.dataset.saved = c.notes || "";
      }
      els.notesState.textContent = "";
    }

    function renderTags(tags) {
      els.custTags.replaceChildren(
        ...tags.map((name) =>
          h(
            "span",
            { class: "tag" },
            name,
            h("button", { type: "button", class: "tag-x", "aria-label": `× ${name}`, onclick: () => saveCustomer((c) => ({ tags: (c.tags || []).filter((t) => t !== name) })) }, "×")
          )
        )
      );
    }

    /** PATCH the shown customer. Saves run one after another, and `changes` may be a function
     * of the customer as the previous save left it: two quick tag edits never undo each other. */
    let saving = Promise.resolve();
    function saveCustomer(changes) {
      const run = saving.then(() => saveCustomerNow(changes));
      saving = run.catch(() => null);
      return run;
    }

    async function saveCustomerNow(changesOrFn) {
      const c = state.customer;
      if (!c) return null;
      const changes = typeof changesOrFn === "function" ? changesOrFn(c) : changesOrFn;
      if (!changes) return null;
      try {
        const updated = await ws.api(`customers/${c.id}/`, { method: "PATCH", json: changes });
        onCustomer(updated);
        return updated;
      } catch (err) {
        ws.toast(fmt(S.saveFailed, { message: err.message }), "error");
        return null;
      }
    }

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

    els.custVip.addEventListener("change", () => saveCustomer({ vip_level: Number(els.custVip.value) }));
    els.tagForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = els.tagInput.value.trim();
      if (!name || !state.customer) return;
      els.tagInput.value = "";
      const saved = await saveCustomer((c) => ((c.tags || []).includes(name) ? null : { tags: [...(c.tags || []), name] }));
      if (saved === null && !(state.customer.tags || []).includes(name)) els.tagInput.value = name; // refused: give it back
    });
    async function saveNotes() {
      if (!state.customer || els.notes.value === els.notes.dataset.saved) return;
      const value = els.notes.value;
      if (await saveCustomer({ notes: value })) {
        els.notes.dataset.saved = value;
        els.notesState.textContent = S.saved;
      }
    }
    els.notes.addEventListener("blur", saveNotes);
    els.notes.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        els.notes.blur();
      } else if (e.key === "Escape") {
        els.notes.value = els.notes.dataset.saved || "";
        els.notes.blur();
      }
    });

    Object.assign(ws, { loadCustomer, onCustomer });
  };
})();
