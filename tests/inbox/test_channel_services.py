"""Channel writes and the admin-only channel reads."""
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from inbox.channel_selectors import channel_get, channel_list
from inbox.channel_services import channel_create, channel_update
from inbox.models import Channel

from ..factories import ChannelFactory


def test_create_issues_public_id_and_secret(shop):
    a = channel_create(shop=shop, kind="platform_api", name=" 京东 ", outbound_url=" https://a.example/out ")
    b = channel_create(shop=shop, kind="web", name="官网")
    assert a.name == "京东" and a.outbound_url == "https://a.example/out"
    assert a.public_id != b.public_id
    assert a.webhook_secret != b.webhook_secret and len(a.webhook_secret) >= 32
    assert b.outbound_url == "" and b.is_active


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "sms", "name": "x"},
        {"kind": "web", "name": ""},
        {"kind": "web", "name": "x" * 51},
        {"kind": "web", "name": "x", "outbound_url": "ftp://a.example/"},
        {"kind": "web", "name": "x", "outbound_url": "http://"},
        {"kind": "web", "name": "x", "outbound_url": "https://a.example/" + "p" * 200},
    ],
)
def test_create_refuses_bad_values(shop, kwargs):
    with pytest.raises(ValidationError):
        channel_create(shop=shop, **kwargs)
    assert not Channel.objects.exists()


def test_update_changes_only_given_fields_and_rotates_secret(web_channel):
    secret = web_channel.webhook_secret
    updated = channel_update(channel=web_channel, outbound_url="https://b.example/hook")
    assert (updated.name, updated.outbound_url, updated.webhook_secret) == (web_channel.name, "https://b.example/hook", secret)
    updated = channel_update(channel=web_channel, is_active=False, rotate_secret=True)
    assert not updated.is_active and updated.webhook_secret != secret
    with pytest.raises(ValidationError):
        channel_update(channel=web_channel, name="  ")
    web_channel.refresh_from_db()
    assert web_channel.name == updated.name


def test_channel_reads_are_admin_only(admin_user, supervisor, outsider, web_channel, shop, other_shop):
    ChannelFactory(shop=other_shop)
    assert list(channel_list(user=admin_user)) == [web_channel]
    assert channel_get(user=admin_user, channel_id=web_channel.pk) == web_channel
    with pytest.raises(PermissionDenied):
        channel_list(user=supervisor)
    with pytest.raises(PermissionDenied):
        channel_get(user=supervisor, channel_id=web_channel.pk)
    with pytest.raises(Http404):
        channel_get(user=outsider, channel_id=web_channel.pk)
    with pytest.raises(Http404):
        channel_list(user=outsider, shop_id=shop.pk)
    assert web_channel not in channel_list(user=outsider)
