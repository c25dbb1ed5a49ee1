/* The agent workspace's shared context, `ws`: the page's config and strings, its elements, a
 * localStorage wrapper and the mutable state. Every workspace module receives this one object
 * (and adds its functions to it), so nothing is shared through globals. */
(function () {
  "use strict";
  const DXE = (window.DXE = window.DXE || {});
  DXE.workspace = DXE.workspace || {};

  const $ = (id) => document.getElementById(id);

  function elements() {
    return {
      workspace: $("workspace"),
      list: $("conv-list"),
      search: $("search"),
      status: $("status-filter"),
      tabs: document.querySelectorAll(".list-tabs .tab"),
      thread: $("thread"),
      threadEmpty: $("thread-empty"),
      threadName: $("thread-name"),
      threadMeta: $("thread-meta"),
      threadAvatar: $("thread-avatar"),
      threadStatus: $("thread-status"),
      assign: $("assign-select"),
      assignMe: $("assign-me"),
      resolve: $("resolve-btn"),
      reopen: $("reopen-btn"),
      snooze: $("snooze-btn"),
      snoozeMenu: $("snooze-menu"),
      snoozePick: $("snooze-pick"),
      snoozeAt: $("snooze-at"),
      messages: $("messages"),
      newPill: $("new-pill"),
      custLastContact: $("cust-last-contact"),
      typing: $("typing-line"),
      peers: $("thread-peers"),
      composer: $("composer"),
      input: $("composer-input"),
      imageInput: $("image-input"),
      imagePick: $("image-pick-label"),
      conn: $("conn"),
      side: $("side-body"),
      sideEmpty: $("side-empty"),
      custName: $("cust-name"),
      custAvatar: $("cust-avatar"),
      custBuyerId: $("cust-buyer-id"),
      custPhone: $("cust-phone"),
      custRealName: $("cust-realname"),
      custVip: $("cust-vip"),
      custTags: $("cust-tags"),
      tagForm: $("tag-form"),
      tagInput: $("tag-input"),
      notes: $("cust-notes"),
      notesState: $("notes-state"),
      orders: $("cust-orders"),
      history: $("cust-history"),
      lightbox: $("lightbox"),
      lightboxImg: $("lightbox-img"),
      help: $("help"),
      helpBtn: $("help-btn"),
      soundToggle: $("sound-toggle"),
      desktopToggle: $("desktop-toggle"),
      toasts: $("toasts"),
    };
  }

  const store = {
    get(key, fallback) {
      try {
        const v = localStorage.getItem(key);
        return v === null ? fallback : v;
      } catch (err) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        if (value === null || value === "") localStorage.removeItem(key);
        else localStorage.setItem(key, value);
      } catch (err) {
        /* private mode or full: memory still has it */
      }
    },
  };

  /** A fresh context for this page. Functions arrive as the modules install themselves. */
  DXE.workspace.context = function () {
    const cfg = DXE.config();
    const ws = { cfg, S: cfg.strings, me: cfg.user, els: elements(), store };
    ws.state = {
      view: store.get("dxe.view", "all"),
      status: store.get("dxe.status", "open"),
      q: "",
      convs: new Map(), // id -> conversation (the newest payload seen)
      listed: new Set(), // ids shown in the list under the current filter
      next: null,
      listLoading: false,
      listGen: 0,
      activeId: null,
      listFocus: null, // the row holding the list's Tab stop
      threads: new Map(), // id -> thread state
      seqs: new Map(), // id -> {held, seen: Set}
      outbox: new DXE.Outbox((frame) => ws.socket.send(frame), (cmid) => ws.upload(cmid)), // {convId, frame} | {convId, files}
      typing: new Map(), // conversation id -> {name, until}
      members: new Map(), // shop id -> Promise<[member]>
      membersResolved: new Map(), // shop id -> [member], once loaded (for lines drawn synchronously)
      drafts: new Map(),
      modes: new Map(),
      customer: null,
      hellos: 0,
      online: new Map(), // shop id -> Set of online agent ids (hello, presence frames)
      viewingSent: null, // the conversation other agents were last told this tab shows
    };
    ws.peers = new DXE.Peers(); // other agents viewing or typing in conversations
    return ws;
  };
})();
