"""The serving loop's publisher: events leave in commit order, what queued meanwhile leaves
together, and a failed send is retried."""
import asyncio

from inbox import realtime


class FlakyLayer:
    """A channel layer whose first ``failures`` group sends raise, as a dead Redis connection does."""

    def __init__(self, failures: int):
        self.failures = failures
        self.sent: list[tuple[str, int]] = []

    async def group_send(self, group, message):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("Connection closed by server.")
        self.sent.append((group, message["payload"]["seq"]))


class PipeliningLayer:
    """A channel layer that sends many group sends at once, as the Redis one does."""

    def __init__(self):
        self.calls: list[list[tuple[str, int]]] = []

    async def group_send_many(self, messages):
        self.calls.append([(group, message["payload"]["seq"]) for group, message in messages])


async def publish(layer, monkeypatch, *batches) -> None:
    """Queue each batch of seqs at once; the next batch after the publisher took the last."""
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(realtime, "PUBLISH_RETRY_SECONDS", 0)
    loop = asyncio.get_running_loop()
    for events in batches:
        for seq in events:
            realtime._enqueue(loop, [("shop-1-agents", {"seq": seq})])
        for _ in range(20):
            await asyncio.sleep(0.01)
    realtime._publishers.pop(loop).task.cancel()


async def test_a_failed_send_is_retried_once_and_order_is_kept(monkeypatch):
    layer = FlakyLayer(failures=1)
    await publish(layer, monkeypatch, [1, 2, 3])
    assert layer.sent == [("shop-1-agents", 1), ("shop-1-agents", 2), ("shop-1-agents", 3)]


async def test_a_send_failing_twice_is_logged_and_the_next_goes_on(monkeypatch, caplog):
    layer = FlakyLayer(failures=2)
    await publish(layer, monkeypatch, [1], [2])
    assert layer.sent == [("shop-1-agents", 2)]
    assert "publishing an event failed" in caplog.text


async def test_what_queued_meanwhile_leaves_in_one_call_in_order(monkeypatch):
    layer = PipeliningLayer()
    await publish(layer, monkeypatch, [1, 2, 3], [4])
    assert layer.calls == [
        [("shop-1-agents", 1), ("shop-1-agents", 2), ("shop-1-agents", 3)],
        [("shop-1-agents", 4)],
    ]
