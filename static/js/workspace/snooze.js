/* Snoozing the open conversation (稍后处理): the menu under the header's button, with the
 * usual choices and a time of the agent's own. The server wakes the conversation at that
 * time, or sooner if the buyer writes. */
(function () {
  "use strict";

  window.DXE.workspace.snooze = function (ws) {
    const { state, els } = ws;

    /** The wake-up time of a menu choice, in the agent's own time zone. */
    function snoozeUntil(choice, now = new Date()) {
      if (choice === "hour") return new Date(now.getTime() + 3600 * 1000);
      const at = new Date(now);
      at.setHours(9, 0, 0, 0);
      if (choice === "tomorrow") at.setDate(at.getDate() + 1);
      else if (choice === "monday") at.setDate(at.getDate() + (((8 - at.getDay()) % 7) || 7));
      return at;
    }

    const items = () => Array.from(els.snoozeMenu.querySelectorAll("[role=menuitem], input, button[type=submit]"));

    function openMenu() {
      els.snoozeMenu.hidden = false;
      els.snooze.setAttribute("aria-expanded", "true");
      const soon = snoozeUntil("hour");
      els.snoozeAt.min = localInputValue(new Date());
      if (!els.snoozeAt.value) els.snoozeAt.value = localInputValue(soon);
      items()[0].focus();
    }

    function closeMenu(focusButton) {
      if (els.snoozeMenu.hidden) return;
      els.snoozeMenu.hidden = true;
      els.snooze.setAttribute("aria-expanded", "false");
      if (focusButton) els.snooze.focus();
    }

    const pad = (n) => String(n).padStart(2, "0");
    function localInputValue(d) {
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }

    async function snooze(until) {
      const id = state.activeId;
      closeMenu(true);
      try {
        const conv = await ws.api(`conversations/${id}/snooze/`, { method: "POST", json: { until: until.toISOString() } });
        ws.convChanged(ws.upsertConv(conv));
      } catch (err) {
        ws.toast(err.message, "error");
      }
    }

    els.snooze.addEventListener("click", () => (els.snoozeMenu.hidden ? openMenu() : closeMenu(true)));
    els.snoozeMenu.addEventListener("click", (e) => {
      const item = e.target.closest("[data-snooze]");
      if (item) snooze(snoozeUntil(item.dataset.snooze));
    });
    els.snoozePick.addEventListener("submit", (e) => {
      e.preventDefault();
      const at = new Date(els.snoozeAt.value); // a datetime-local value is read as local time
      if (!isNaN(at)) snooze(at);
    });
    // A menu: arrows move between its items, Esc closes it, and so do a click or focus outside.
    els.snoozeMenu.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        closeMenu(true);
      } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && e.target.type !== "datetime-local") {
        e.preventDefault();
        const list = items();
        const at = list.indexOf(document.activeElement);
        list[(at + (e.key === "ArrowDown" ? 1 : list.length - 1)) % list.length].focus();
      }
    });
    document.addEventListener("click", (e) => {
      if (!e.target.closest(".snooze")) closeMenu(false);
    });
    els.snoozeMenu.addEventListener("focusout", (e) => {
      if (e.relatedTarget && !e.relatedTarget.closest(".snooze")) closeMenu(false);
    });

    Object.assign(ws, { closeSnoozeMenu: closeMenu });
  };
})();
