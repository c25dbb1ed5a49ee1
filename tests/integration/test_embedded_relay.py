"""On the embedded layer, an event written by another process (the Celery worker, a command)
reaches the web server's sockets through its relay (dianxiaoer/layer_relay.py)."""
import json
import subprocess

from .conftest import BIN, ROOT
from .sockets import next_event, open_agent, open_buyer, watch

SIBLING_REPLY = r"""
import sys
import django

django.setup()
from accounts.models import User
from inbox import services
from inbox.models import Conversation

conversation = Conversation.objects.get(pk=int(sys.argv[1]))
services.message_send(
    conversation=conversation, sender_kind="agent", author=User.objects.get(pk=int(sys.argv[2])), text=sys.argv[3]
)
"""


async def test_another_process_reply_reaches_the_open_sockets(embedded_product):
    product = embedded_product
    agent = await open_agent(product, 0)
    buyer = await open_buyer(product, 0, 0)
    try:
        await buyer.send(json.dumps({"type": "send", "client_msg_id": "relay-1", "text": "在吗"}))
        ack = json.loads(await buyer.recv())
        assert ack["type"] == "ack", ack
        conversation_id = ack["message"]["conversation_id"]
        await watch(agent, [conversation_id])

        subprocess.run(
            [str(BIN / "python"), "-c", SIBLING_REPLY, str(conversation_id), str(product.agents[0]["id"]), "另一个进程的回复"],
            cwd=ROOT, env=product.env, check=True, timeout=60,
        )
        for ws in (agent, buyer):
            event = await next_event(ws, "message.created")
            assert (event["conversation_id"], event["message"]["text"]) == (conversation_id, "另一个进程的回复")
    finally:
        await agent.close()
        await buyer.close()
