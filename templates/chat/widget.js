{% autoescape off %}/* dianxiaoer chat widget: <script src="https://<host>/chat/<shop>/widget.js" data-token="…" async></script>
 * Adds a floating button to the page; it opens the shop's chat in an iframe. data-token (a
 * shop-signed buyer identity, see the integration docs) is passed on as ?token=. */
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

  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", {{ label }});
  button.title = {{ label }};
  button.setAttribute("data-dxe", "launcher");
  button.style.cssText = "position:fixed;bottom:20px;" + position + ":20px;width:56px;height:56px;border:0;border-radius:50%;" +
    "background:#ff5a1f url('" + {{ icon_url }} + "') no-repeat center/26px;box-shadow:0 6px 20px rgba(0,0,0,.22);cursor:pointer;z-index:" + z;

  var panel = document.createElement("div");
  panel.setAttribute("data-dxe", "panel");
  panel.style.cssText = "position:fixed;bottom:88px;" + position + ":20px;width:380px;height:600px;max-height:calc(100vh - 108px);" +
    "border-radius:14px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.25);background:#fff;display:none;z-index:" + z;
  var frame = null;

  function small() { return window.matchMedia("(max-width: 480px)").matches; }
  function layout() {
    if (small()) {
      panel.style.inset = "0"; panel.style.width = "100%"; panel.style.height = "100%";
      panel.style.maxHeight = "none"; panel.style.borderRadius = "0";
    } else {
      panel.style.inset = ""; panel.style.width = "380px"; panel.style.height = "600px";
      panel.style.maxHeight = "calc(100vh - 108px)"; panel.style.borderRadius = "14px";
      panel.style.bottom = "88px"; panel.style[position] = "20px";
    }
  }
  var close = document.createElement("button");
  close.type = "button";
  close.setAttribute("aria-label", {{ close_label }});
  close.textContent = "\u00d7";
  close.style.cssText = "position:absolute;top:10px;right:10px;width:32px;height:32px;border:0;border-radius:50%;" +
    "background:rgba(0,0,0,.06);font:22px/32px sans-serif;color:#4e5969;cursor:pointer;z-index:1";

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = url;
      frame.title = {{ title }};
      frame.allow = "clipboard-read; clipboard-write";
      frame.style.cssText = "width:100%;height:100%;border:0;display:block";
      panel.appendChild(frame);
      panel.appendChild(close);
    }
    layout();
    panel.style.display = "block";
    button.setAttribute("aria-expanded", "true");
  }
  function hide() {
    panel.style.display = "none";
    button.setAttribute("aria-expanded", "false");
  }
  button.addEventListener("click", function () { panel.style.display === "block" ? hide() : open(); });
  close.addEventListener("click", hide);
  window.addEventListener("resize", function () { if (panel.style.display === "block") layout(); });

  function mount() { document.body.appendChild(panel); document.body.appendChild(button); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.dxeChat = { open: open, close: hide };
})();
{% endautoescape %}
