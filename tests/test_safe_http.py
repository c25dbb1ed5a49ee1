"""Outbound HTTP reaches public addresses only, unless OUTBOUND_ALLOW_PRIVATE says otherwise."""
import pytest

from dianxiaoer import safe_http


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "::1", "0.0.0.0"]
)
def test_private_loopback_and_metadata_addresses_are_refused(host, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(safe_http.ForbiddenAddress):
        safe_http.checked_address(host, 443)


def test_a_public_address_is_connected_to_as_checked(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    assert safe_http.checked_address("93.184.216.34", 443) == "93.184.216.34"


def test_private_addresses_pass_when_allowed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert safe_http.checked_address("127.0.0.1", 80) == "127.0.0.1"


def test_the_opener_checks_before_it_connects(settings):
    import urllib.request

    settings.OUTBOUND_ALLOW_PRIVATE = False
    opener = safe_http.build_opener()
    for url in ("http://127.0.0.1:9/", "https://localhost:9/"):
        with pytest.raises(safe_http.ForbiddenAddress):
            opener.open(urllib.request.Request(url, data=b"{}", method="POST"), timeout=2)
