/* Seq bookkeeping: which events of each conversation this tab has applied, and resync for
 * the missed ones (see docs/ARCHITECTURE.md, "Conversation history and seq").
 *
 * - Every conversation's history is one gapless seq sequence. For each conversation we keep
 *   `held`, the highest seq up to which we have applied every event. Events at or below it
 *   are duplicates and ignored (except message.delivery, which re-uses its message's seq).
 *   An event beyond held+1 is applied (messages are keyed by seq, so nothing doubles) and
 *   the hole is filled by a resync if it does not close by itself within a moment.
 * - List rows carry the conversation's last_seq: a row newer than a held thread means we
 *   missed its events, so the same gap check runs. */
(function () {
  "use strict";

  window.DXE.workspace.seq = function (ws) {
    const { state } = ws;

    function seqState(id) {
      let s = state.seqs.get(id);
      if (!s) {
        s = { held: 0, seen: new Set(), gapTimer: null };
        state.seqs.set(id, s);
      }
      return s;
    }

    /** True when the event is new (and records it); false for a duplicate. */
    function takeSeq(id, seq, known) {
      const s = seqState(id);
      if (!known && s.held === 0 && s.seen.size === 0) {
        // A conversation we never loaded: start tracking from here.
        s.held = seq;
        return true;
      }
      if (seq <= s.held || s.seen.has(seq)) return false;
      if (seq === s.held + 1) {
        s.held = seq;
        while (s.seen.has(s.held + 1)) {
          s.seen.delete(s.held + 1);
          s.held += 1;
        }
      } else {
        s.seen.add(seq);
        scheduleGapCheck(id);
      }
      return true;
    }

    function raiseHeld(id, seq) {
      const s = seqState(id);
      if (seq > s.held) s.held = seq;
      for (const x of Array.from(s.seen)) if (x <= s.held) s.seen.delete(x);
      while (s.seen.has(s.held + 1)) {
        s.seen.delete(s.held + 1);
        s.held += 1;
      }
    }

    function scheduleGapCheck(id) {
      const s = seqState(id);
      if (s.gapTimer) return;
      s.gapTimer = window.setTimeout(() => {
        s.gapTimer = null;
        const conv = state.convs.get(id);
        if (s.seen.size || (conv && conv.last_seq > s.held)) resync([id]);
      }, 1500);
    }

    /** Ask for missed history of these conversations (the server takes 100 per frame). */
    function resync(ids) {
      const list = Array.from(ids);
      for (let i = 0; i < list.length; i += 100) {
        const conversations = {};
        for (const id of list.slice(i, i + 100)) conversations[id] = seqState(id).held;
        ws.socket.send({ type: "resync", conversations });
      }
    }

    Object.assign(ws, { seqState, takeSeq, raiseHeld, scheduleGapCheck, resync });
  };
})();
