{% autoescape off %}/* dianxiaoer chat widget: <script src="https://<host>/chat/<shop>/widget.js" data-token="…" async></script>
 * Adds a floating button to the page; it opens the shop's chat in an iframe. data-token (a
 * shop-signed buyer identity, see the integration docs) is passed on as ?token=.
 * The chat stays loaded while its panel is closed, and once a buyer has opened it, it is
 * loaded (hidden) on the site's next pages too: the button then counts replies the buyer has
 * not seen. The iframe is told whether its panel shows ({dxe: "panel", open}), so a reply is
 * marked read only when the buyer can see it, and says how many replies are unread
 * ({dxe: "unread", count}), once the iframe has loaded (before that it is still about:blank).
 * On a phone the open panel covers the page: the button hides (it would sit over the chat's
 * Send button) and the panel's own close button brings the buyer back to the page. */
(function () {
  "use strict";
  if (window.__dxeWidget) return;
  window.__dxeWidget = true;
  var script = document.currentScript;
  var base = {{ chat_url }};
  var token = script && script.getAttribute("data-token");
  var position = (script && script.getAttribute("data-position")) === "left" ? "left" : "right";
  var url = base + "?embed=1" + (token ? "&token=" + encodeURIComponent(token) : "");
  var z = 2147483000;
  var chatOrigin = new URL(base).origin;
  var remembered = "dxe.chat." + base; // this browser has chatted here: load the chat on every page

  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", {{ label }});
  button.title = {{ label }};
  button.setAttribute("data-dxe", "launcher");
  button.style.cssText = "position:fixed;bottom:20px;" + position + ":20px;width:56px;height:56px;border:0;border-radius:50%;" +
    "background:#ff5a1f url('" + {{ icon_url }} + "') no-repeat center/26px;box-shadow:0 6px 20px rgba(0,0,0,.22);cursor:pointer;z-index:" + z;
  var badge = document.createElement("span");
  badge.setAttribute("data-dxe", "unread");
  badge.setAttribute("aria-hidden", "true");
  badge.style.cssText = "position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;" +
    "border-radius:10px;background:#f53f3f;color:#fff;font:600 12px/20px sans-serif;text-align:center;box-shadow:0 0 0 2px #fff;display:none";
  button.appendChild(badge);

  var panel = document.createElement("div");
  panel.setAttribute("data-dxe", "panel");
  panel.style.cssText = "position:fixed;bottom:88px;" + position + ":20px;width:380px;height:600px;max-height:calc(100vh - 108px);" +
    "border-radius:14px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.25);background:#fff;display:none;z-index:" + z;
  var frame = null;
  var unread = 0;

  var frameLoaded = false;

  function small() { return window.matchMedia("(max-width: 480px)").matches; }
  function layout() {
    var full = small();
    if (full) {
      panel.style.inset = "0"; panel.style.width = "100%"; panel.style.height = "100%";
      panel.style.maxHeight = "none"; panel.style.borderRadius = "0";
    } else {
      panel.style.inset = ""; panel.style.width = "380px"; panel.style.height = "600px";
      panel.style.maxHeight = "calc(100vh - 108px)"; panel.style.borderRadius = "14px";
      panel.style.bottom = "88px"; panel.style[position] = "20px";
    }
    button.style.display = full && isOpen() ? "none" : "";
  }
  var close = document.createElement("button");
  close.type = "button";
  close.setAttribute("aria-label", {{ close_label }});
  close.textContent = "\u00d7";
  close.style.cssText = "position:absolute;top:10px;right:10px;width:32px;height:32px;border:0;border-radius:50%;" +
    "background:rgba(0,0,0,.06);font:22px/32px sans-serif;color:#4e5969;cursor:pointer;z-index:1";

  function isOpen() { return panel.style.display === "block"; }
  function tellFrame() {
    if (frameLoaded) frame.contentWindow.postMessage({ dxe: "panel", open: isOpen() }, chatOrigin);
  }
  function showUnread() {
    var count = isOpen() ? 0 : unread;
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.style.display = count ? "block" : "none";
    button.setAttribute("aria-label", count ? {{ label }} + " (" + count + ")" : {{ label }});
  }
  function load() {
    if (frame) return;
    frame = document.createElement("iframe");
    frame.src = url;
    frame.title = {{ title }};
    frame.allow = "clipboard-read; clipboard-write";
    frame.style.cssText = "width:100%;height:100%;border:0;display:block";
    frame.addEventListener("load", function () { frameLoaded = true; tellFrame(); });
    panel.appendChild(frame);
    panel.appendChild(close);
  }
  function open() {
    load();
    try { window.localStorage.setItem(remembered, "1"); } catch (e) { /* storage blocked: load on open only */ }
    panel.style.display = "block";
    layout();
    button.setAttribute("aria-expanded", "true");
    tellFrame();
    showUnread();
  }
  function hide() {
    var refocus = document.activeElement === close; // the close button goes with the panel
    panel.style.display = "none";
    layout();
    if (refocus) button.focus();
    button.setAttribute("aria-expanded", "false");
    tellFrame();
    showUnread();
  }
  window.addEventListener("message", function (e) {
    if (!frame || e.source !== frame.contentWindow || e.origin !== chatOrigin) return;
    if (e.data && e.data.dxe === "unread" && typeof e.data.count === "number") {
      unread = e.data.count;
      showUnread();
    }
  });
  button.addEventListener("click", function () { panel.style.display === "block" ? hide() : open(); });
  close.addEventListener("click", hide);
  window.addEventListener("resize", function () { if (panel.style.display === "block") layout(); });

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
    var chatted = false;
    try { chatted = window.localStorage.getItem(remembered) === "1"; } catch (e) { /* storage blocked */ }
    if (chatted) load();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.dxeChat = { open: open, close: hide };
})();
{% endautoescape %}
