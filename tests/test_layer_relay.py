"""The embedded layer's relay: sibling processes' group sends reach the web server's loop."""
import asyncio
import socket

from dianxiaoer import layer_relay


def test_forward_without_a_relay_or_a_listener_says_so(settings, tmp_path):
    settings.CHANNEL_RELAY_SOCKET = ""
    assert not layer_relay.forward([("g", {"a": 1})])
    settings.CHANNEL_RELAY_SOCKET = str(tmp_path / "nobody.sock")
    assert not layer_relay.forward([("g", {"a": 1})])


async def test_lines_reach_the_listener_and_a_bad_one_is_dropped(settings, tmp_path):
    path = tmp_path / "relay.sock"
    settings.CHANNEL_RELAY_SOCKET = str(path)
    delivered: list = []
    await layer_relay.listen(delivered.append)
    assert path.stat().st_mode & 0o777 == 0o600

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:  # what a broken sibling might write
        sock.connect(str(path))
        sock.sendall(b"not json\n")
    assert await asyncio.to_thread(layer_relay.forward, [("shop-1-agents", {"kind": "x", "seq": 1})])
    assert await asyncio.to_thread(layer_relay.forward, [("buyer-1-ab", {"kind": "x", "seq": 2}), ("g", {"n": "中文"})])
    for _ in range(100):
        if len(delivered) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(delivered) == 2
    assert [("shop-1-agents", {"kind": "x", "seq": 1})] in delivered
    assert [("buyer-1-ab", {"kind": "x", "seq": 2}), ("g", {"n": "中文"})] in delivered  # one call, one line
