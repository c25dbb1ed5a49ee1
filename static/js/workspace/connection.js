/* The workspace's socket: the connection badge, a reload when the session is gone, and the
 * periodic viewing refresh and outbox flush. `window.dxeSocket` is the console and
 * browser-test hook. */
(function () {
  "use strict";

  window.DXE.workspace.connection = function (ws) {
    const { cfg, S, state, els } = ws;

    function onState(s) {
      const label = s === "open" ? S.connected : s === "connecting" ? S.connecting : S.offline;
      els.conn.dataset.state = s === "open" ? "open" : s === "connecting" ? "connecting" : "offline";
      els.conn.querySelector(".conn-text").textContent = label;
    }

    let leaving = false;
    const socket = new window.DXE.ReconnectingSocket(window.DXE.wsUrl(cfg.ws), {
      onFrame: (frame) => ws.onFrame(frame),
      onState,
      onClose(code) {
        // 4401/4403: the session is gone (signed out, here or elsewhere) or the user's shops
        // changed: a reload shows the login page or what the user has now. Not while this page
        // is already leaving (its own sign-out form closes the socket too).
        if (code === 4401 || code === 4403) {
          if (!leaving) window.location.reload();
          return "stop";
        }
        return null;
      },
    });
    window.addEventListener("beforeunload", () => {
      leaving = true;
      if (state.viewingSent !== null) socket.send({ type: "viewing", conversation_id: state.viewingSent, viewing: false });
    });
    window.dxeSocket = socket; // console and browser-test hook: dxeSocket.drop(ms)

    window.setInterval(() => {
      if (socket.isOpen()) ws.announceViewing(false);
    }, window.DXE.Peers.VIEWING_REFRESH_MS);

    window.setInterval(() => {
      if (socket.isOpen()) state.outbox.flush(false);
    }, 2500);

    Object.assign(ws, { socket });
  };
})();
