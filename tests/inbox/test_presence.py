"""Agent presence: counts per socket, staleness, and the sweep that counts out agents whose
server process died (its sockets' disconnects never ran). The sockets' side of presence is in
test_consumers.py."""
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from inbox import presence, realtime
from inbox.models import AgentPresence


@pytest.fixture
def sent(monkeypatch):
    """The (group, frame) sends published, in order."""
    frames: list[tuple[str, dict]] = []
    monkeypatch.setattr("inbox.realtime._send", frames.extend)
    return frames


def go_silent(user) -> None:
    """The process holding the user's sockets died: no disconnects, no heartbeats since."""
    AgentPresence.objects.filter(user=user).update(last_seen_at=timezone.now() - presence.PRESENCE_TTL - timedelta(seconds=1))


def test_stale_presence_is_offline_and_reset_on_connect(agent, shop):
    assert presence.presence_connect(user_id=agent.pk) is True
    assert presence.presence_connect(user_id=agent.pk) is False
    go_silent(agent)
    assert list(presence.agents_online(shop_id=shop.pk)) == []
    assert presence.presence_connect(user_id=agent.pk) is True
    assert AgentPresence.objects.get(user=agent).connections == 1
    assert presence.presence_disconnect(user_id=agent.pk) is True
    assert presence.presence_disconnect(user_id=agent.pk) is False


def test_sweep_counts_out_silent_agents_once_and_tells_their_shops(
    agent, supervisor, shop, other_shop, outsider, sent, django_capture_on_commit_callbacks
):
    Membership.objects.create(user=agent, shop=other_shop, role=Role.AGENT)
    for user in (agent, supervisor, outsider):
        presence.presence_connect(user_id=user.pk)
    go_silent(agent)
    go_silent(outsider)

    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(presence.presence_expire_stale()) == sorted([agent.pk, outsider.pk])
        assert presence.presence_expire_stale() == []  # a second run finds nothing

    assert AgentPresence.objects.get(user=agent).connections == 0
    assert [user.pk for user in presence.agents_online(shop_id=shop.pk)] == [supervisor.pk]
    offline = lambda user: presence.presence_frame(user_id=user.pk, online=False)  # noqa: E731
    assert sorted(sent, key=repr) == sorted(
        [
            (realtime.shop_agents_group(shop.pk), offline(agent)),
            (realtime.shop_buyers_group(shop.pk), presence.staffed_frame(staffed=True)),  # the supervisor is there
            (realtime.shop_agents_group(other_shop.pk), offline(agent)),
            (realtime.shop_buyers_group(other_shop.pk), presence.staffed_frame(staffed=False)),
            (realtime.shop_agents_group(other_shop.pk), offline(outsider)),
            (realtime.shop_buyers_group(other_shop.pk), presence.staffed_frame(staffed=False)),
        ],
        key=repr,
    )


def test_sweep_leaves_live_and_offline_agents_alone(agent, supervisor, sent, django_capture_on_commit_callbacks):
    presence.presence_connect(user_id=agent.pk)  # beating
    presence.presence_connect(user_id=supervisor.pk)
    presence.presence_disconnect(user_id=supervisor.pk)  # left properly, long ago
    go_silent(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        assert presence.presence_expire_stale() == []
    assert sent == []
    assert AgentPresence.objects.get(user=agent).connections == 1


def test_a_socket_of_a_stalled_process_counts_itself_back_in(agent, shop, sent, django_capture_on_commit_callbacks):
    """A process that stalled past the TTL but lives on: the sweep counted its agent out, and
    the socket's next heartbeat brings them back (the socket then says so)."""
    presence.presence_connect(user_id=agent.pk)
    assert presence.presence_heartbeat(user_id=agent.pk) is False  # an ordinary beat
    go_silent(agent)
    with django_capture_on_commit_callbacks(execute=True):
        presence.presence_expire_stale()
    assert presence.presence_heartbeat(user_id=agent.pk) is True
    assert [user.pk for user in presence.agents_online(shop_id=shop.pk)] == [agent.pk]
    assert presence.presence_heartbeat(user_id=agent.pk) is False
    assert presence.presence_disconnect(user_id=agent.pk) is True
