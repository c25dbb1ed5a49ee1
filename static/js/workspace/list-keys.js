/* Keyboard in the conversation list: one Tab stop (roving tabindex), as in WAI-ARIA's
 * listbox; and moving the open conversation up or down the list (j/k, Alt+↑/↓). */
(function () {
  "use strict";

  window.DXE.workspace.listKeys = function (ws) {
    const { state, els } = ws;

    /** The row that takes the list's Tab stop: the one last focused, else the open one, else the first. */
    function rovingRow(ids) {
      if (state.listFocus !== null && ws.rowEls.has(state.listFocus)) return state.listFocus;
      if (state.activeId !== null && ws.rowEls.has(state.activeId)) return state.activeId;
      return ids.length ? ids[0] : null;
    }

    function focusRow(id) {
      const row = ws.rowEls.get(id);
      if (!row) return;
      state.listFocus = id;
      for (const [other, el] of ws.rowEls) el.tabIndex = other === id ? 0 : -1;
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }

    /** Arrows, j/k, Home/End move the focus; Enter or Space opens the focused conversation. */
    function onListKey(e) {
      const row = e.target.closest(".conv");
      if (!row || e.ctrlKey || e.metaKey || e.altKey) return;
      const id = Number(row.dataset.id);
      const ids = ws.sortedListIds();
      const at = ids.indexOf(id);
      let to;
      if (e.key === "ArrowDown" || e.key === "j") to = at + 1;
      else if (e.key === "ArrowUp" || e.key === "k") to = at - 1;
      else if (e.key === "Home") to = 0;
      else if (e.key === "End") to = ids.length - 1;
      else if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        ws.selectConversation(id);
        return;
      } else return;
      e.preventDefault();
      focusRow(ids[Math.min(ids.length - 1, Math.max(0, to))]);
      if (to >= ids.length - 3) ws.loadList(false);
    }

    function moveSelection(delta) {
      const ids = ws.sortedListIds();
      if (!ids.length) return;
      const at = ids.indexOf(state.activeId);
      const next = at === -1 ? (delta > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + delta));
      const focusInList = els.list.contains(document.activeElement);
      ws.selectConversation(ids[next]);
      if (focusInList) focusRow(ids[next]);
      if (next >= ids.length - 3) ws.loadList(false);
    }

    els.list.addEventListener("keydown", onListKey);
    els.list.addEventListener("focusin", (e) => {
      const row = e.target.closest(".conv");
      if (row) state.listFocus = Number(row.dataset.id);
    });

    Object.assign(ws, { rovingRow, focusRow, moveSelection });
  };
})();
