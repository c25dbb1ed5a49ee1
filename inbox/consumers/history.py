"""Reading a conversation's missed history for ``resync`` (sync: run in the DB thread)."""
from .. import events, selectors
from ..models import Conversation

PAGE = 200
# At most this many events per conversation in one resync; past it ``resync.done`` says
# ``more: true`` and the client asks again from the last seq it got.
MAX_EVENTS_PER_CONVERSATION = 1000


def history_after(*, conversation: Conversation, after_seq: int, for_buyer: bool) -> tuple[list[dict], int, bool]:
    """The events after ``after_seq`` as the reader gets them live, in seq order.

    Returns ``(payloads, last_seq, more)``: ``last_seq`` is what the reader holds once it has
    applied them (the conversation's last seq unless cut short, then ``more`` is True).
    """
    payloads: list[dict] = []
    cursor = after_seq
    more = False
    while True:
        messages = selectors.message_list(
            conversation=conversation, after_seq=cursor, include_private=not for_buyer, limit=PAGE
        )
        stored = selectors.event_list(conversation=conversation, after_seq=cursor, limit=PAGE)
        # A full page may stop short of the other list: only merge up to the shorter reach.
        upto = None
        if len(messages) == PAGE:
            upto = messages[-1].seq
        if len(stored) == PAGE:
            upto = stored[-1].seq if upto is None else min(upto, stored[-1].seq)
        if upto is not None:
            messages = [m for m in messages if m.seq <= upto]
            stored = [e for e in stored if e.seq <= upto]
        payloads.extend(
            events.history_events(conversation=conversation, messages=messages, events=stored, for_buyer=for_buyer)
        )
        if upto is None:
            break
        cursor = upto
        if len(payloads) >= MAX_EVENTS_PER_CONVERSATION:
            more = True
            break
    last_seq = cursor if more else max(conversation.last_seq, payloads[-1]["seq"] if payloads else 0)
    return payloads, last_seq, more
