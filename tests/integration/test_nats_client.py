"""NatsService in process against the stack's NATS: publish reaches a subscriber, and the
echo responder answers requests."""

import asyncio

import nats
from nats.aio.msg import Msg

from app.config import Settings
from app.services.nats_client import NatsService
from devstack.config import StackConfig


async def test_publish_reaches_a_subscriber_and_requests_are_echoed(stack: StackConfig) -> None:
    url = stack.app_environment()["NATS_URL"]
    service = NatsService(Settings(NATS_URL=url, NATS_SUBJECT="tests.echo"))
    listener = await nats.connect(url, connect_timeout=5)
    try:
        received: asyncio.Queue[bytes] = asyncio.Queue()

        async def collect(message: Msg) -> None:
            await received.put(message.data)

        await listener.subscribe("tests.published", cb=collect)
        await listener.flush()

        await service.publish("tests.published", b"hello")
        assert await asyncio.wait_for(received.get(), 5) == b"hello"
        assert await service.request(b"ping") == b"ping"
        await service.round_trip()
    finally:
        await service.close()
        await listener.drain()
