"""The agent socket, ``/ws/agent/``: the agent's shops live, and their writes.

What it hears (see ``hub.py``): full events of the conversations it follows (assigned to its
user, or watched with a ``watch`` frame), coalesced rows of the conversation list it shows
(``list`` frame: all, unassigned or mine), and presence.

Authenticated by the Django session (AuthMiddlewareStack). A socket without a logged-in user
is accepted and closed with 4401, one of a user with no shop with 4403, so the browser can
tell "log in again" from a network failure. Membership is read when the socket opens; when
the user's shops or roles change (a membership added, removed or given another role, the user
deactivated), the hubs close the user's sockets with 4403 (``inbox/access_signals.py``) and
the workspace reloads.
"""
import asyncio
import logging
from typing import NamedTuple

from asgiref.sync import sync_to_async
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import memberships_of

from .. import events, presence, realtime, selectors, services
from . import hub
from .base import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    FrameError,
    JsonSocket,
    bool_field,
    int_field,
    not_found,
    str_field,
)
from .history import history_after

logger = logging.getLogger(__name__)

MAX_RESYNC_CONVERSATIONS = 100
MAX_WATCHED_CONVERSATIONS = 100


class Reach(NamedTuple):
    """Where a conversation's ephemeral frames go: its shop's agents and its buyer's group."""

    shop_id: int
    buyer_group: str


class AgentConsumer(JsonSocket):
    """Joins no group itself: the process's shop hubs (``hub.py``) feed it its shops' events."""

    # No channel of its own: nothing is addressed to one agent socket.
    channel_layer_alias = None
    frame_handlers = {
        "send": "on_send",
        "note": "on_note",
        "resync": "on_resync",
        "read": "on_read",
        "typing": "on_typing",
        "viewing": "on_viewing",
        "watch": "on_watch",
        "list": "on_list",
        "ping": "on_ping",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user: User | None = None
        self.user_id: int | None = None
        # The login session the socket opened with (``realtime.session_tag``): signing out
        # closes that session's sockets.
        self.session_tag: str | None = None
        self.shop_ids: list[int] = []
        # Conversations whose full events this socket wants besides its user's own.
        self.watching: frozenset[int] = frozenset()
        # The conversation list the workspace shows: which list rows the hub sends it.
        self.list_view = "all"
        self.counted = False
        self.heartbeat: asyncio.Task | None = None
        # Conversations this socket was allowed to touch, with their shop and their buyer's
        # realtime group: typing and viewing need no query.
        self.allowed: dict[int, Reach] = {}
        # Hub frames wait here while the socket answers a frame of its own (or says hello).
        self.holding = True
        self.held: list[str] = []

    # --- Lifecycle -----------------------------------------------------------------------

    async def connect(self):
        scope_user = self.scope.get("user")
        if scope_user is None or not scope_user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        opened = await self.db_call(self._open)(scope_user.pk)
        if opened is None:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        hello, came_online = opened
        session_key = getattr(self.scope.get("session"), "session_key", None)
        self.session_tag = realtime.session_tag(session_key) if session_key else None
        await hub.subscribe(self, self.shop_ids)
        await self.accept()
        await self.send_frame(hello)
        await self.release()
        if came_online:
            await self._announce_online()
        self.heartbeat = asyncio.create_task(self._beat())

    async def _announce_online(self) -> None:
        staffed = dict.fromkeys(self.shop_ids, True)
        await presence.presence_broadcast(user_id=self.user.pk, shop_ids=self.shop_ids, online=True, staffed=staffed)

    def _open(self, user_id: int) -> tuple[dict, bool] | None:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            return None
        memberships = memberships_of(user)
        if not memberships:
            return None
        self.user, self.user_id = user, user.pk
        self.shop_ids = sorted(memberships)
        came_online = presence.presence_connect(user_id=user.pk)
        self.counted = True
        online = presence.online_user_ids(shop_ids=self.shop_ids)
        shops = [
            {
                "id": m.shop_id,
                "name": m.shop.name,
                "slug": m.shop.slug,
                "role": m.role,
                "online_user_ids": online[m.shop_id],
            }
            for m in sorted(user.memberships.select_related("shop"), key=lambda m: m.shop_id)
        ]
        hello = {
            "type": "hello",
            "user": {"id": user.pk, "username": user.username, "nickname": user.nickname},
            "shops": shops,
        }
        return hello, came_online

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(presence.HEARTBEAT_SECONDS)
            try:
                came_back = await self.db_call(presence.presence_heartbeat)(user_id=self.user.pk)
            except Exception:
                logger.exception("presence heartbeat failed")
                continue
            if came_back:
                await self._announce_online()

    async def disconnect(self, code):
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        await hub.unsubscribe(self, self.shop_ids)
        if self.counted:
            went_offline = await self.db_call(presence.presence_disconnect)(user_id=self.user.pk)
            if went_offline:
                staffed = await self.db_call(presence.shops_staffed)(shop_ids=self.shop_ids)
                await presence.presence_broadcast(user_id=self.user.pk, shop_ids=self.shop_ids, online=False, staffed=staffed)

    # --- Hub frames, in order with the socket's own -------------------------------------

    def follows(self, conversation_id: int | None, assignee_id: int | None) -> bool:
        """Whether this socket gets the conversation's events in full (else its list row only)."""
        return conversation_id in self.watching or (assignee_id is not None and assignee_id == self.user_id)

    async def access_changed(self) -> None:
        """The user's shops or roles changed: close with 4403; the workspace reloads with what
        the user has now."""
        self.holding, self.held = True, []  # nothing more of this shop goes out
        await self.close(code=CLOSE_FORBIDDEN)

    async def hub_deliver(self, text: str) -> None:
        if self.holding:
            self.held.append(text)
        else:
            await self.send(text_data=text)

    async def release(self) -> None:
        """Send what the hub brought meanwhile, then let hub frames through directly."""
        while self.held:
            batch, self.held = self.held, []
            for text in batch:
                await self.send(text_data=text)
        self.holding = False

    async def receive(self, text_data=None, bytes_data=None):
        self.holding = True
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data)
        finally:
            await self.release()

    # --- Frames --------------------------------------------------------------------------

    def _conversation(self, conversation_id: int):
        conversation = selectors.conversation_get(user=self.user, conversation_id=conversation_id)
        self.allowed[conversation.pk] = Reach(
            conversation.shop_id, realtime.buyer_group(conversation.channel_id, conversation.customer.platform_buyer_id)
        )
        return conversation

    def _write_message(self, *, conversation_id: int, text: str, client_msg_id: str, private: bool) -> dict:
        conversation = self._conversation(conversation_id)
        if private:
            message, created = services.note_add(
                conversation=conversation, author=self.user, text=text, client_msg_id=client_msg_id
            )
        else:
            message, created = services.message_send(
                conversation=conversation, sender_kind="agent", author=self.user, text=text, client_msg_id=client_msg_id
            )
        return {"type": "ack", "client_msg_id": client_msg_id, "message": events.message_data(message), "created": created}

    async def on_send(self, frame: dict, *, private: bool = False) -> None:
        conversation_id = int_field(frame, "conversation_id", minimum=1)
        client_msg_id = str_field(frame, "client_msg_id")
        text = str_field(frame, "text")
        ack = await self.db_call(self._write_message)(
            conversation_id=conversation_id, text=text, client_msg_id=client_msg_id, private=private
        )
        await self.send_frame(ack)

    async def on_note(self, frame: dict) -> None:
        await self.on_send(frame, private=True)

    def _visible(self, conversation_ids: list[int]) -> None:
        visible = selectors.conversation_buyers(user=self.user, conversation_ids=conversation_ids)
        self.allowed.update(
            {pk: Reach(shop_id, realtime.buyer_group(channel_id, buyer_id)) for pk, (shop_id, channel_id, buyer_id) in visible.items()}
        )

    async def on_watch(self, frame: dict) -> None:
        """Follow these conversations (replacing the previous set); answers ``watching``."""
        wanted = frame.get("conversation_ids")
        if (
            not isinstance(wanted, list)
            or len(wanted) > MAX_WATCHED_CONVERSATIONS
            or any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in wanted)
        ):
            raise FrameError(
                "invalid",
                _("`conversation_ids` must be a list of at most %(max)d conversation ids.")
                % {"max": MAX_WATCHED_CONVERSATIONS},
            )
        unknown = [i for i in wanted if i not in self.allowed]
        if unknown:
            await self.db_call(self._visible)(unknown)
        # Unknown and foreign ids are left out alike, so existence does not leak.
        self.watching = frozenset(i for i in wanted if i in self.allowed)
        await self.send_frame({"type": "watching", "conversation_ids": sorted(self.watching)})

    async def on_list(self, frame: dict) -> None:
        """Show this list (``all``, ``unassigned`` or ``mine``): its rows come live; answers ``listing``."""
        view = frame.get("view")
        if view not in hub.LIST_VIEWS:
            raise FrameError("invalid", _("`view` must be one of: %(views)s.") % {"views": ", ".join(hub.LIST_VIEWS)})
        self.list_view = view
        await self.send_frame({"type": "listing", "view": view})

    def _history(self, conversation_id: int, after_seq: int):
        conversation = self._conversation(conversation_id)
        return history_after(conversation=conversation, after_seq=after_seq, for_buyer=False)

    async def on_resync(self, frame: dict) -> None:
        wanted = frame.get("conversations")
        if not isinstance(wanted, dict) or len(wanted) > MAX_RESYNC_CONVERSATIONS:
            raise FrameError(
                "invalid",
                _("`conversations` must map at most %(max)d conversation ids to last seqs.") % {"max": MAX_RESYNC_CONVERSATIONS},
            )
        parsed = []
        for key, last_seq in wanted.items():
            try:
                conversation_id = int(key)
            except ValueError:
                conversation_id = 0
            if conversation_id < 1 or isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
                raise FrameError("invalid", _("`conversations` must map conversation ids to last seqs (integers)."))
            parsed.append((conversation_id, last_seq))
        for conversation_id, after_seq in parsed:
            try:
                payloads, last_seq, more = await self.db_call(self._history)(conversation_id, after_seq)
            except Http404:
                error = not_found()
                await self.send_error(error.code, error.message, "resync", conversation_id=conversation_id)
                continue
            except Exception:  # one failing conversation must not cut the others' resync
                logger.exception("resync of conversation %s failed", conversation_id)
                await self.send_error(
                    "internal", _("Resync failed; please retry."), "resync", conversation_id=conversation_id
                )
                continue
            for payload in payloads:
                await self.send_frame({"type": "event", "event": payload})
            await self.send_frame({"type": "resync.done", "conversation_id": conversation_id, "last_seq": last_seq, "more": more})

    def _mark_read(self, conversation_id: int, seq: int) -> None:
        conversation = self._conversation(conversation_id)
        services.conversation_mark_read(conversation=conversation, side="agent", up_to_seq=seq, actor=self.user)

    async def on_read(self, frame: dict) -> None:
        conversation_id = int_field(frame, "conversation_id", minimum=1)
        seq = int_field(frame, "seq")
        await self.db_call(self._mark_read)(conversation_id, seq)

    async def _reach(self, conversation_id: int) -> Reach:
        if conversation_id not in self.allowed:
            await self.db_call(self._conversation)(conversation_id)
        return self.allowed[conversation_id]

    async def on_typing(self, frame: dict) -> None:
        """The buyer sees "typing"; the shop's other agents following it see who types."""
        conversation_id = int_field(frame, "conversation_id", minimum=1)
        is_typing = bool_field(frame, "is_typing")
        reach = await self._reach(conversation_id)
        typing = {"conversation_id": conversation_id, "side": "agent", "is_typing": is_typing, "name": self.user.nickname}
        await sync_to_async(realtime.publish_ephemeral, thread_sensitive=False)(
            shop_id=reach.shop_id,
            agent_payload=events.typing_frame(**typing, user_id=self.user_id),
            buyer=reach.buyer_group,
            buyer_payload=events.typing_frame(**typing),
        )

    async def on_viewing(self, frame: dict) -> None:
        """The agent opened a conversation's thread (``viewing``: true, said again now and then
        while it stays open) or left it: the other agents following it are told."""
        conversation_id = int_field(frame, "conversation_id", minimum=1)
        viewing = bool_field(frame, "viewing")
        ask = bool_field(frame, "ask") if "ask" in frame else False
        reach = await self._reach(conversation_id)
        payload = events.viewing_frame(
            conversation_id=conversation_id, user_id=self.user_id, name=self.user.nickname, viewing=viewing, ask=ask and viewing
        )
        await sync_to_async(realtime.publish_ephemeral, thread_sensitive=False)(shop_id=reach.shop_id, agent_payload=payload)
