/* The overlays (keyboard help, image lightbox): modal while open, the focus kept inside
 * and given back on close. */
(function () {
  "use strict";

  window.DXE.workspace.overlays = function (ws) {
    const { els } = ws;

    // An open overlay is modal: the workspace behind it is inert, Tab cycles inside it, and
    // closing it (Esc, its × or a click outside) gives the focus back to what had it.
    const overlay = { el: null, returnTo: null };
    const FOCUSABLE = 'button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])';

    function openOverlay(el) {
      if (overlay.el) closeOverlays();
      overlay.returnTo = document.activeElement;
      overlay.el = el;
      el.hidden = false;
      els.workspace.inert = true;
      const first = el.querySelector(FOCUSABLE);
      if (first) first.focus();
    }

    function closeOverlays() {
      const el = overlay.el;
      if (!el) return false;
      el.hidden = true;
      overlay.el = null;
      els.workspace.inert = false;
      let back = overlay.returnTo;
      overlay.returnTo = null;
      // A list row may have been rebuilt meanwhile: its successor takes the focus.
      if (back && !back.isConnected && back.matches(".conv")) back = ws.rowEls.get(Number(back.dataset.id));
      if (back && back.isConnected && back !== document.body) back.focus();
      return true;
    }

    function trapTab(e) {
      const items = Array.from(overlay.el.querySelectorAll(FOCUSABLE)).filter((x) => !x.disabled);
      if (!items.length) return;
      const at = items.indexOf(document.activeElement);
      const to = e.shiftKey ? (at <= 0 ? items.length - 1 : at - 1) : at === items.length - 1 ? 0 : at + 1;
      e.preventDefault();
      items[to].focus();
    }

    function openLightbox(src) {
      els.lightboxImg.src = src;
      openOverlay(els.lightbox);
    }
    els.lightbox.addEventListener("click", closeOverlays);
    els.help.addEventListener("click", (e) => {
      if (e.target === els.help || e.target.classList.contains("overlay-close")) closeOverlays();
    });
    els.helpBtn.addEventListener("click", () => openOverlay(els.help));

    Object.assign(ws, { overlay, openOverlay, closeOverlays, trapTab, openLightbox });
  };
})();
