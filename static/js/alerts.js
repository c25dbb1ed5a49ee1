/* New-chat alerts of the agent workspace: a short chime, synthesised with the Web Audio API
 * (no sound file), and, while the page is hidden, a desktop notification. The workspace
 * decides what deserves an alert; this says it the way the agent chose (sound on by default,
 * desktop notifications off until the agent enables them and the browser allows them).
 * Classic script (no build step): it adds DXE.Alerts to window.DXE.
 */
(function () {
  "use strict";
  const DXE = (window.DXE = window.DXE || {});

  const SOUND_KEY = "dxe.alerts.sound";
  const DESKTOP_KEY = "dxe.alerts.desktop";
  // One chime for a burst (the messages missed while offline arrive together on reconnect).
  const CHIME_GAP_MS = 1000;
  // Two rising sine notes: (frequency in Hz, start in s).
  const NOTES = [
    [880, 0],
    [1320, 0.12],
  ];

  const permission = () => ("Notification" in window ? window.Notification.permission : "unsupported");

  class Alerts {
    /** `store` keeps the choices: {get(key, fallback), set(key, value)}. */
    constructor(store) {
      this.store = store;
      this.sound = store.get(SOUND_KEY, "on") === "on";
      this.desktop = store.get(DESKTOP_KEY, "off") === "on" && permission() === "granted";
      this.audio = null;
      this.lastChime = 0;
      // Browsers let audio start only after a gesture on the page: the first one unlocks it.
      const unlock = () => {
        if (this.sound) this._context();
      };
      window.addEventListener("pointerdown", unlock, { once: true, capture: true });
      window.addEventListener("keydown", unlock, { once: true, capture: true });
    }

    setSound(on) {
      this.sound = on;
      this.store.set(SOUND_KEY, on ? "on" : "off");
      if (on) this._context();
    }

    /** Turn desktop notifications on (asking the browser's permission) or off. Resolves to
     * "on", "off", "denied" or "unsupported". Call it from the click that asks. */
    async setDesktop(on) {
      if (!on) {
        this.desktop = false;
        this.store.set(DESKTOP_KEY, "off");
        return "off";
      }
      if (!("Notification" in window)) return "unsupported";
      let answer = window.Notification.permission;
      if (answer === "default") answer = await window.Notification.requestPermission();
      if (answer !== "granted") return "denied";
      this.desktop = true;
      this.store.set(DESKTOP_KEY, "on");
      return "on";
    }

    /** Chime, and show a desktop notification if the page is hidden; a click on it calls
     * `onClick` with the window focused. `tag` names what it is about: a newer
     * notification with the same tag replaces the older one. */
    alert({ title, body, tag, onClick }) {
      if (this.sound) this._chime();
      if (this.desktop && document.visibilityState === "hidden" && permission() === "granted") {
        let note;
        try {
          note = new window.Notification(title, { body, tag });
        } catch (err) {
          return; // some mobile browsers allow notifications from service workers only
        }
        note.onclick = () => {
          window.focus();
          note.close();
          onClick();
        };
      }
    }

    _context() {
      if (!this.audio) {
        const Context = window.AudioContext || window.webkitAudioContext;
        if (!Context) return null;
        this.audio = new Context();
      }
      if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
      return this.audio;
    }

    _chime() {
      const now = Date.now();
      if (now - this.lastChime < CHIME_GAP_MS) return;
      this.lastChime = now;
      const ctx = this._context();
      if (!ctx) return;
      const t = ctx.currentTime;
      for (const [frequency, at] of NOTES) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, t + at);
        gain.gain.exponentialRampToValueAtTime(0.18, t + at + 0.015);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.2);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(t + at);
        osc.stop(t + at + 0.22);
      }
    }
  }

  DXE.Alerts = Alerts;
})();
