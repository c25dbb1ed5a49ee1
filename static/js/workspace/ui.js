/* Small helpers of the agent workspace: toasts, the JSON API wrapper (ApiError; an answer
 * saying the session is gone reloads to the login page), and how buyers, statuses, channels
 * and ratings are named and buyers' avatars painted. */
(function () {
  "use strict";
  const { h, fmt, timeLabel } = window.DXE;

  window.DXE.workspace.ui = function (ws) {
    const { cfg, S, els } = ws;
    const API = cfg.api;
    const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

    function toast(text, kind) {
      const el = h("div", { class: `toast ${kind || ""}`, role: "status" }, text);
      els.toasts.append(el);
      window.setTimeout(() => el.classList.add("is-leaving"), 3600);
      window.setTimeout(() => el.remove(), 4000);
    }

    class ApiError extends Error {
      constructor(status, message) {
        super(message);
        this.status = status;
      }
    }

    async function api(path, options) {
      const opts = Object.assign({ method: "GET", headers: {} }, options || {});
      opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
      opts.credentials = "same-origin";
      if (opts.method !== "GET") opts.headers["X-CSRFToken"] = csrfToken;
      if (opts.json !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(opts.json);
        delete opts.json;
      }
      const url = /^https?:|^\//.test(path) ? path : API + path;
      let res;
      try {
        res = await fetch(url, opts);
      } catch (err) {
        throw new ApiError(0, S.offlineError); // the browser's own text is English ("Failed to fetch")
      }
      let body = null;
      const type = res.headers.get("Content-Type") || "";
      if (type.includes("json")) body = await res.json();
      // Signed out (here, elsewhere, or by a password change): the reload lands on the login page.
      const signedOut = res.status === 401 || (res.status === 403 && body && body.error && body.error.code === "not_authenticated");
      if (signedOut || (res.status === 403 && res.redirected)) window.location.reload();
      if (!res.ok) {
        const message = (body && body.error && body.error.message) || `${res.status} ${res.statusText}`;
        throw new ApiError(res.status, message);
      }
      return body;
    }

    const initial = (text) => (text || "?").trim().slice(0, 1).toUpperCase();
    /** A buyer's display name: the nickname, else "访客 1a2b3c" for anonymous web visitors. */
    function customerName(customer) {
      if (!customer) return "";
      if (customer.nickname) return customer.nickname;
      const id = customer.platform_buyer_id || "";
      return id.startsWith("visitor-") ? fmt(S.visitor, { id: id.slice(8, 14) }) : id;
    }
    const buyerName = (conv) => customerName(conv.customer) || `#${conv.id}`;
    const statusLabel = (status) => S[`status_${status}`] || status;
    /** A conversation's status as its row and header show it: a snooze says until when. */
    const statusText = (conv) =>
      conv.status === "snoozed" && conv.snoozed_until ? fmt(S.snoozedRow, { time: timeLabel(conv.snoozed_until) }) : statusLabel(conv.status);
    const channelLabel = (channel) => (channel ? S[`channel_${channel.kind}`] || channel.name : "");
    /** A 满意度 level's words by its score (1 to 5). */
    const ratingLabel = (score) => cfg.ratingLabels[score] || String(score);

    /** A stable hue per buyer so avatars are tellable apart at a glance. */
    function avatarHue(seed) {
      let x = 0;
      for (const ch of String(seed)) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
      return x % 360;
    }
    function paintAvatar(el, name, seed) {
      el.textContent = initial(name);
      el.style.setProperty("--hue", avatarHue(seed));
    }

    Object.assign(ws, { toast, ApiError, api, customerName, buyerName, statusLabel, statusText, channelLabel, ratingLabel, paintAvatar });
  };
})();
