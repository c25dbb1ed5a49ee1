/* Shared by the agent workspace and the buyer chat page: a reconnecting websocket and small
 * DOM/text helpers. Classic script (no build step, no modules): it defines window.DXE. */
(function () {
  "use strict";
  const DXE = (window.DXE = window.DXE || {});

  /** A websocket that keeps itself connected.
   *
   * - Reconnects with exponential backoff (0.5 s doubling to 15 s, with jitter); the backoff
   *   resets once the server has sent a frame on the new socket.
   * - Sends {"type":"ping"} every 25 s; a socket that shows no life for 10 s after a ping
   *   is considered dead and replaced (half-open TCP connections never fire "close").
   * - Reconnects at once when the browser comes back online or the tab becomes visible.
   * - drop(holdMs) closes the socket as a network failure would and stays down for holdMs:
   *   used by the browser tests and handy when debugging from the console.
   */
  class ReconnectingSocket {
    constructor(url, handlers) {
      this.url = url;
      this.handlers = handlers || {};
      this.ws = null;
      this.attempt = 0;
      this.timer = null;
      this.pingTimer = null;
      this.lastFrameAt = 0;
      this.lastPingAt = 0;
      this.holdUntil = 0;
      this.stopped = false;
      this.state = "connecting";
      this.connects = 0;
      window.addEventListener("online", () => this.reconnectNow());
      window.addEventListener("offline", () => this._setState("offline"));
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible" && !this.isOpen()) this.reconnectNow();
      });
    }

    start() {
      this.stopped = false;
      this._connect();
      if (!this.pingTimer) this.pingTimer = window.setInterval(() => this._heartbeat(), 5000);
    }

    stop() {
      this.stopped = true;
      window.clearTimeout(this.timer);
      window.clearInterval(this.pingTimer);
      this.pingTimer = null;
      if (this.ws) this.ws.close(1000);
    }

    isOpen() {
      return !!this.ws && this.ws.readyState === WebSocket.OPEN;
    }

    /** Send a JSON frame; false when the socket is not open (the caller keeps it queued). */
    send(frame) {
      if (!this.isOpen()) return false;
      try {
        this.ws.send(JSON.stringify(frame));
        return true;
      } catch (err) {
        return false;
      }
    }

    reconnectNow() {
      if (this.stopped || this.isOpen() || Date.now() < this.holdUntil) return;
      if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
      window.clearTimeout(this.timer);
      this.attempt = 0;
      this._connect();
    }

    /** Simulate a dropped connection; reconnects by itself after holdMs (plus backoff). */
    drop(holdMs) {
      this.holdUntil = Date.now() + (holdMs || 0);
      if (this.ws) {
        const ws = this.ws;
        this._detach(ws);
        ws.close(4000, "dropped");
        this._onClose({ code: 4000 });
      }
    }

    _detach(ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (this.ws === ws) this.ws = null;
    }

    _setState(state) {
      if (this.state === state) return;
      this.state = state;
      if (this.handlers.onState) this.handlers.onState(state);
    }

    _connect() {
      if (this.stopped) return;
      const wait = this.holdUntil - Date.now();
      if (wait > 0) {
        this.timer = window.setTimeout(() => this._connect(), wait);
        return;
      }
      if (this.ws) this._detach(this.ws);
      this._setState("connecting");
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        this._schedule();
        return;
      }
      this.ws = ws;
      let gotFrame = false;
      ws.onopen = () => {
        this.lastFrameAt = Date.now();
        this.connects += 1;
        this._setState("open");
        if (this.handlers.onOpen) this.handlers.onOpen(this.connects);
      };
      ws.onmessage = (ev) => {
        this.lastFrameAt = Date.now();
        if (!gotFrame) {
          gotFrame = true;
          this.attempt = 0;
        }
        let frame;
        try {
          frame = JSON.parse(ev.data);
        } catch (err) {
          return;
        }
        if (frame && frame.type === "pong") return;
        if (this.handlers.onFrame) this.handlers.onFrame(frame);
      };
      ws.onerror = () => {
        /* "close" follows and does the work */
      };
      ws.onclose = (ev) => {
        this._detach(ws);
        this._onClose(ev);
      };
    }

    _onClose(ev) {
      this._setState(navigator.onLine === false ? "offline" : "closed");
      if (this.handlers.onClose) {
        const verdict = this.handlers.onClose(ev.code);
        if (verdict === "stop") {
          this.stopped = true;
          return;
        }
      }
      this._schedule();
    }

    _schedule() {
      if (this.stopped) return;
      window.clearTimeout(this.timer);
      const base = Math.min(15000, 500 * Math.pow(2, this.attempt));
      this.attempt = Math.min(this.attempt + 1, 10);
      const delay = Math.max(base * (0.75 + Math.random() * 0.5), this.holdUntil - Date.now());
      this.timer = window.setTimeout(() => this._connect(), delay);
    }

    _heartbeat() {
      if (!this.isOpen()) return;
      const idle = Date.now() - this.lastFrameAt;
      if (idle > 35000) {
        // A ping went out more than 10 s ago and nothing came back: the link is dead.
        const ws = this.ws;
        this._detach(ws);
        try {
          ws.close(4001, "heartbeat timeout");
        } catch (err) {
          /* already closing */
        }
        this._onClose({ code: 4001 });
      } else if (idle > 25000 && Date.now() - this.lastPingAt > 20000) {
        this.lastPingAt = Date.now();
        this.send({ type: "ping" });
      }
    }
  }

  DXE.ReconnectingSocket = ReconnectingSocket;

  /** Sends the server has not acknowledged yet, by client_msg_id. A resend keeps the id, so
   * the server answers it with the stored message instead of storing it twice. An entry holds
   * a socket frame, or anything else for an HTTP upload that `upload(cmid)` repeats. */
  class Outbox extends Map {
    constructor(sendFrame, upload) {
      super();
      this.sendFrameNow = sendFrame;
      this.upload = upload;
    }

    sendFrame(cmid, frame, extra) {
      this.set(cmid, Object.assign({}, extra, { frame, sentAt: Date.now() }));
      this.sendFrameNow(frame);
    }

    /** On (re)connect everything goes; otherwise only frames unanswered for 5 s (a frame the
     * server dropped under its rate limit gets no answer at all). */
    flush(all) {
      const now = Date.now();
      for (const [cmid, entry] of this) {
        if (entry.frame) {
          if (all || now - entry.sentAt > 5000) {
            entry.sentAt = now;
            this.sendFrameNow(entry.frame);
          }
        } else if (all) this.upload(cmid);
      }
    }
  }

  DXE.Outbox = Outbox;

  /** Whether an HTTP status refuses a send for a reason that sending it again cannot change
   * (a 4xx but 408 and 429: not an image, too large...): such a message is offered to be
   * removed, not retried. */
  DXE.refusedForGood = (status) => status >= 400 && status < 500 && status !== 408 && status !== 429;

  DXE.wsUrl = function (path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  };

  /** A v4 UUID, also where crypto.randomUUID is missing (plain-HTTP intranet hosts). */
  DXE.uuid = function () {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };

  /** Fill "%(name)s" placeholders of a translated string. */
  DXE.fmt = function (template, params) {
    return String(template).replace(/%\((\w+)\)s/g, (m, key) => (params && key in params ? String(params[key]) : m));
  };

  /** Build an element: h("div", {class: "x", onclick: fn, dataset: {...}}, child, "text"). */
  DXE.h = function (tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") el.className = value;
        else if (key === "dataset") Object.assign(el.dataset, value);
        else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
        else if (key === "text") el.textContent = value;
        else if (value === true) el.setAttribute(key, "");
        else el.setAttribute(key, value);
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  };

  const pad = (n) => String(n).padStart(2, "0");

  /** "14:05" today, "昨天"-free numeric "11-23 14:05" otherwise: compact and unambiguous. */
  DXE.timeLabel = function (iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return "";
    const now = new Date();
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (d.toDateString() === now.toDateString()) return hm;
    const md = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    return d.getFullYear() === now.getFullYear() ? `${md} ${hm}` : `${d.getFullYear()}-${md}`;
  };

  /** Elapsed time as m:ss or h:mm:ss, for wait timers. */
  DXE.duration = function (ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  };

  DXE.config = function () {
    const el = document.getElementById("dxe-config");
    return el ? JSON.parse(el.textContent) : {};
  };
})();
