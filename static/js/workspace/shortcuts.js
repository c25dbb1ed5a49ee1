/* Page-wide keyboard shortcuts (j/k, Alt+↑/↓, r, n, /, ?); while an overlay is open,
 * Esc closes it and Tab stays inside. */
(function () {
  "use strict";

  window.DXE.workspace.shortcuts = function (ws) {
    const { state, els } = ws;

    const typingTarget = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);

    document.addEventListener("keydown", (e) => {
      if (ws.overlay.el) {
        if (e.key === "Escape") {
          e.preventDefault();
          ws.closeOverlays();
        } else if (e.key === "Tab") ws.trapTab(e);
        return;
      }
      if (e.defaultPrevented) return; // the list took it
      if (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
        e.preventDefault();
        ws.moveSelection(e.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (typingTarget(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "j") ws.moveSelection(1);
      else if (e.key === "k") ws.moveSelection(-1);
      else if (e.key === "?") ws.openOverlay(els.help);
      else if (e.key === "/") {
        e.preventDefault();
        els.search.focus();
      } else if ((e.key === "r" || e.key === "n") && state.activeId !== null) {
        e.preventDefault();
        ws.setMode(e.key === "n" ? "note" : "reply");
        els.input.focus();
      } else return;
    });
  };
})();
