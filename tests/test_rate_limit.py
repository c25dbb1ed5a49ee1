from django.core.cache import cache

from dianxiaoer.rate_limit import window_hits


def test_hits_count_per_key_within_the_window():
    assert [window_hits("a", window_seconds=60) for _ in range(3)] == [1, 2, 3]
    assert window_hits("b", window_seconds=60) == 1


def test_a_new_window_counts_from_one():
    window_hits("a", window_seconds=60)
    window_hits("a", window_seconds=60)
    cache.delete("a")  # what the window's end does
    assert window_hits("a", window_seconds=60) == 1
