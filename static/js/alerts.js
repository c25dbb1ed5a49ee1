/* New-chat alerts of the agent workspace: a short chime, synthesised with the Web Audio API
 * (no sound file), and, while the page is hidden, a desktop notification. The workspace
 * decides what deserves an alert; this says it the way the agent chose (sound on by default,
 * desktop notifications off until the agent enables them and the browser allows them), and
 * once per browser: every open workspace tab gets the same events, and the tabs agree on one
 * to say each (see claim below).
 * Classic script (no build step): it adds DXE.Alerts to window.DXE.
 */
(function () {
  "use strict";
  const DXE = (window.DXE = window.DXE || {});

  const SOUND_KEY = "dxe.alerts.sound";
  const DESKTOP_KEY = "dxe.alerts.desktop";
  // One chime for a burst (the messages missed while offline arrive together on reconnect),
  // whichever tabs say its alerts: the tab that chimes holds this Web Lock for the gap.
  const CHIME_GAP_MS = 1000;
  const CHIME_LOCK = "dxe.alerts.chime";
  // Two rising sine notes: (frequency in Hz, start in s).
  const NOTES = [
    [880, 0],
    [1320, 0.12],
  ];
  // An event's Web Lock is held this long by the tab that took it, while the other tabs get
  // the same event over their own sockets and the mark below reaches their storage.
  const LOCK_PREFIX = "dxe.alerts.";
  const LOCK_HOLD_MS = 5000;
  // Events some tab said, marked in localStorage for a tab that gets one late (replayed
  // after its socket dropped); marks expire and are swept as new ones are written.
  const SAID_PREFIX = "dxe.alerts.said.";
  const SAID_TTL_MS = 10 * 60 * 1000;
  // A tab waits this long per rank before claiming, so the best placed tab claims first.
  const RANK_STEP_MS = 150;

  /** Marks of events already said, in localStorage; without it (private mode, blocked
   * storage) there are none and only the lock keeps the tabs apart. */
  const said = {
    has(event) {
      try {
        return Number(window.localStorage.getItem(SAID_PREFIX + event)) > Date.now();
      } catch (err) {
        return false;
      }
    },
    add(event) {
      try {
        const storage = window.localStorage;
        const now = Date.now();
        const keys = [];
        for (let i = 0; i < storage.length; i++) keys.push(storage.key(i));
        for (const key of keys) {
          if (key && key.startsWith(SAID_PREFIX) && Number(storage.getItem(key)) <= now) storage.removeItem(key);
        }
        storage.setItem(SAID_PREFIX + event, String(now + SAID_TTL_MS));
      } catch (err) {
        /* full or blocked: the lock alone keeps the tabs apart */
      }
    },
  };

  /** Resolves true if this tab is the one to say `event` (a name unique to it), after waiting
   * `delay` ms. The first tab to take the event's Web Lock, and find it not marked said,
   * wins; the others find the lock held or the mark set. Without Web Locks (an insecure
   * origin) the mark alone decides, and two tabs claiming at the same moment may both win;
   * without either, every tab says it: a double alert rather than a missed one. */
  function claim(event, delay) {
    const take = () => {
      if (said.has(event)) return false;
      said.add(event);
      return true;
    };
    return new Promise((resolve) => {
      window.setTimeout(() => {
        if (!navigator.locks) {
          resolve(take());
          return;
        }
        navigator.locks
          .request(LOCK_PREFIX + event, { ifAvailable: true }, (lock) => {
            if (!lock) {
              resolve(false);
              return null;
            }
            resolve(take());
            return new Promise((release) => window.setTimeout(release, LOCK_HOLD_MS));
          })
          .catch(() => resolve(true));
      }, delay);
    });
  }

  const permission = () => ("Notification" in window ? window.Notification.permission : "unsupported");

  class Alerts {
    /** `store` keeps the choices: {get(key, fallback), set(key, value)}; `onChange` is
     * called when another tab changed them, which this tab then follows too (any tab may be
     * the one to say the next alert, so all of them say it the way the agent last chose). */
    constructor(store, onChange) {
      this.store = store;
      this._load();
      window.addEventListener("storage", (e) => {
        if (e.key !== null && e.key !== SOUND_KEY && e.key !== DESKTOP_KEY) return; // null: cleared
        this._load();
        onChange();
      });
      this.audio = null;
      this.lastChime = 0;
      // Browsers let audio start only after a gesture on the page: the first one unlocks it.
      const unlock = () => {
        if (this.sound) this._context();
      };
      window.addEventListener("pointerdown", unlock, { once: true, capture: true });
      window.addEventListener("keydown", unlock, { once: true, capture: true });
    }

    _load() {
      this.sound = this.store.get(SOUND_KEY, "on") === "on";
      this.desktop = this.store.get(DESKTOP_KEY, "off") === "on" && permission() === "granted";
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

    /** Say an alert, unless another tab of this browser says it: chime, and show a desktop
     * notification if the page is hidden; a click on it calls `onClick` with the window
     * focused. `event` names the alert uniquely across tabs (the same in each); `tag` names
     * what it is about: a newer notification with the same tag replaces the older one. */
    alert({ title, body, tag, event, onClick }) {
      claim(event, this._delay()).then((mine) => {
        if (mine) this._say({ title, body, tag, onClick });
      });
    }

    /** The agent saw `event` in this tab, so no tab alerts for it. */
    seen(event) {
      claim(event, 0);
    }

    /** How long this tab waits before claiming an event. The tab the agent looks at (visible
     * and focused) claims at once, other tabs a step later, and a tab whose chime would be
     * silent (no gesture has allowed its audio yet) two steps later still: the agent hears a
     * chime from a hidden tab rather than none from the one in front of them. Timers of
     * hidden tabs may run late (browsers throttle them), so among those it is a preference. */
    _delay() {
      const looking = document.visibilityState === "visible" && document.hasFocus();
      const silent = this.sound && !(this.audio && this.audio.state === "running");
      return ((looking ? 0 : 1) + (silent ? 2 : 0)) * RANK_STEP_MS;
    }

    _say({ title, body, tag, onClick }) {
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

    /** Resolves true if this tab may chime now: no tab of this browser chimed in the last
     * CHIME_GAP_MS (longer in a hidden tab, whose timer may run late). The tab that chimes
     * takes the Web Lock and holds it that long, so two tabs each saying some alerts of one
     * burst at the same moment cannot both chime, as they could with a time kept in
     * localStorage (a tab may read another's write late). Without Web Locks (an insecure
     * origin) each tab spaces its own chimes. */
    _chimeDue() {
      const own = () => {
        const now = Date.now();
        if (now - this.lastChime < CHIME_GAP_MS) return false;
        this.lastChime = now;
        return true;
      };
      return new Promise((resolve) => {
        if (!navigator.locks) {
          resolve(own());
          return;
        }
        navigator.locks
          .request(CHIME_LOCK, { ifAvailable: true }, (lock) => {
            if (!lock) {
              resolve(false);
              return null;
            }
            resolve(true);
            return new Promise((release) => window.setTimeout(release, CHIME_GAP_MS));
          })
          .catch(() => resolve(own()));
      });
    }

    async _chime() {
      if (!(await this._chimeDue())) return;
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
