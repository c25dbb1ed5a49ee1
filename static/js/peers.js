/* The other agents on a conversation, as their "viewing" and "typing" frames tell: who has
 * its thread open and who is writing to its buyer, so two agents do not answer one buyer at
 * once without knowing. Classic script (no build step): it defines window.DXE.Peers. */
(function () {
  "use strict";
  const DXE = (window.DXE = window.DXE || {});

  // A viewer says so again every VIEWING_REFRESH_MS; one not heard of for VIEWING_TTL_MS
  // has gone (a closed laptop sends no "viewing: false").
  const VIEWING_REFRESH_MS = 30000;
  const VIEWING_TTL_MS = 75000;
  // Typing frames repeat every 3 s while the agent types; silence for this long ends it.
  const TYPING_TTL_MS = 6000;

  class Peers {
    constructor() {
      this.byConv = new Map(); // conversation id -> Map(user id -> {name, viewingUntil, typingUntil, shows})
    }

    _entry(convId, userId, name) {
      let users = this.byConv.get(convId);
      if (!users) this.byConv.set(convId, (users = new Map()));
      let entry = users.get(userId);
      if (!entry) users.set(userId, (entry = { name, viewingUntil: 0, typingUntil: 0, shows: "" }));
      entry.name = name || entry.name;
      return entry;
    }

    /** Take a "viewing" or agent "typing" frame; true if what a thread shows changed. */
    take(frame, now) {
      const entry = this._entry(frame.conversation_id, frame.user_id, frame.name);
      if (frame.type === "viewing") entry.viewingUntil = frame.viewing ? now + VIEWING_TTL_MS : 0;
      else entry.typingUntil = frame.is_typing ? now + TYPING_TTL_MS : 0;
      return this._settle(frame.conversation_id, frame.user_id, entry, now);
    }

    /** The conversation's other agents: names typing, and names only viewing. */
    of(convId) {
      const typing = [];
      const viewing = [];
      for (const entry of (this.byConv.get(convId) || new Map()).values()) {
        if (entry.shows === "typing") typing.push(entry.name);
        else if (entry.shows === "viewing") viewing.push(entry.name);
      }
      return { typing, viewing };
    }

    /** Drop what has expired; returns the ids of conversations whose peers changed. */
    prune(now) {
      const changed = new Set();
      for (const [convId, users] of this.byConv) {
        for (const [userId, entry] of users) {
          if (this._settle(convId, userId, entry, now)) changed.add(convId);
        }
      }
      return changed;
    }

    /** Note what the entry shows now (typing, viewing or nothing, then forgotten); true if
     * that differs from what it showed. */
    _settle(convId, userId, entry, now) {
      const shows = entry.typingUntil > now ? "typing" : entry.viewingUntil > now ? "viewing" : "";
      const changed = shows !== entry.shows;
      entry.shows = shows;
      if (!shows) {
        const users = this.byConv.get(convId);
        users.delete(userId);
        if (!users.size) this.byConv.delete(convId);
      }
      return changed;
    }
  }

  Peers.VIEWING_REFRESH_MS = VIEWING_REFRESH_MS;
  DXE.Peers = Peers;
})();
