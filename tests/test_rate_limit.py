import pytest
from django.core.cache import cache
from django.test import RequestFactory

from dianxiaoer.rate_limit import client_address, window_hits


def test_hits_count_per_key_within_the_window():
    assert [window_hits("a", window_seconds=60) for _ in range(3)] == [1, 2, 3]
    assert window_hits("b", window_seconds=60) == 1


def test_a_new_window_counts_from_one():
    window_hits("a", window_seconds=60)
    window_hits("a", window_seconds=60)
    cache.delete("a")  # what the window's end does
    assert window_hits("a", window_seconds=60) == 1


@pytest.mark.parametrize(
    ("num_proxies", "expected"),
    [(0, "10.0.0.2"), (1, "203.0.113.9"), (2, "198.51.100.7")],
)
def test_the_client_address_is_taken_num_proxies_hops_back(settings, num_proxies, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9")
    assert client_address(request) == expected
