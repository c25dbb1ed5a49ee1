"""The serving loop's publisher: events leave in commit order, and a failed send is retried."""
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


async def publish(layer, monkeypatch, events) -> None:
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(realtime, "PUBLISH_RETRY_SECONDS", 0)
    loop = asyncio.get_running_loop()
    for seq in events:
        realtime._enqueue(loop, [("shop-1-agents", {"seq": seq})])
    for _ in range(50):
        await asyncio.sleep(0.01)
    realtime._publishers.pop(loop).task.cancel()


async def test_a_failed_send_is_retried_once_and_order_is_kept(monkeypatch):
    layer = FlakyLayer(failures=1)
    await publish(layer, monkeypatch, [1, 2, 3])
    assert layer.sent == [("shop-1-agents", 1), ("shop-1-agents", 2), ("shop-1-agents", 3)]


async def test_a_send_failing_twice_is_logged_and_the_next_goes_on(monkeypatch, caplog):
    layer = FlakyLayer(failures=2)
    await publish(layer, monkeypatch, [1, 2])
    assert layer.sent == [("shop-1-agents", 2)]
    assert "publishing an event failed" in caplog.text

