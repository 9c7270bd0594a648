"""The load through the load balancer: bounded in rate and time, every request with a client
timeout, every answer recorded (acknowledged writes with their key and value; workflow starts
with their idempotency key, retried with the same key until acknowledged)."""

import asyncio
import contextlib
import itertools
import time
import uuid

import httpx

from rehearsal.history import Request

CLIENT_TIMEOUT = 5.0
WRITE_KEYS = 20  # a small pool: later writes overwrite earlier ones, as real traffic does
WORKFLOW_ATTEMPTS = 5
MAX_IN_FLIGHT = 64
ROUTES = (
    "PUT /settings/{key}",
    "POST /test-workflow",
    "GET /health",
    "POST /nats/test",
    "POST /redis/test",
)


class Load:
    """Runs until `stop` is set or `seconds` passed; `requests` is the history so far."""

    def __init__(self, base_url: str, token: str, rate: float, began: float) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rate = rate
        self.began = began  # time.monotonic() of the run's start: the history's zero
        self.requests: list[Request] = []
        self.sequence = itertools.count(1)
        self.run_id = uuid.uuid4().hex[:8]

    def now(self) -> float:
        return time.monotonic() - self.began

    async def one(
        self,
        client: httpx.AsyncClient,
        route: str,
        method: str,
        path: str,
        json: object = None,
        headers: dict[str, str] | None = None,
        **fields: str,
    ) -> Request:
        started = self.now()
        status: int | None = None
        error = None
        try:
            response = await client.request(
                method, path, json=json, headers={**self.headers, **(headers or {})}
            )
            status = response.status_code
            if status >= 300:
                error = response.text[:200]
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:200]
        request = Request(
            route,
            round(started, 3),
            round(self.now(), 3),
            CLIENT_TIMEOUT,
            status,
            error=error,
            **fields,
        )
        self.requests.append(request)
        return request

    async def write(self, client: httpx.AsyncClient, number: int) -> None:
        key = f"rehearsal.{number % WRITE_KEYS}"  # the API's key pattern: [a-z0-9_.]
        value = f"{self.run_id}-{number}"
        await self.one(
            client,
            ROUTES[0],
            "PUT",
            f"/settings/{key}",
            json={"value": value},
            key=key,
            value=value,
        )

    async def start_workflow(self, client: httpx.AsyncClient, number: int) -> None:
        """Retried with the same key until acknowledged: the API starts one run per key."""
        key = f"rh-{self.run_id}-{number}"
        for attempt in range(WORKFLOW_ATTEMPTS):
            answer = await self.one(
                client,
                ROUTES[1],
                "POST",
                "/test-workflow",
                headers={"Idempotency-Key": key},
                idempotency_key=key,
            )
            if answer.acknowledged:
                return
            await asyncio.sleep(0.5 * (attempt + 1))

    async def request(self, client: httpx.AsyncClient, number: int) -> None:
        match ROUTES[number % len(ROUTES)]:
            case "PUT /settings/{key}":
                await self.write(client, number)
            case "POST /test-workflow":
                await self.start_workflow(client, number)
            case "GET /health":
                await self.one(client, ROUTES[2], "GET", "/health")
            case "POST /nats/test":
                await self.one(client, ROUTES[3], "POST", "/nats/test")
            case _:
                await self.one(client, ROUTES[4], "POST", "/redis/test")

    async def run(self, stop: asyncio.Event) -> None:
        interval = 1.0 / self.rate
        in_flight: set[asyncio.Task[None]] = set()
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=16)
        timeout = httpx.Timeout(CLIENT_TIMEOUT)
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, limits=limits
        ) as client:
            next_at = time.monotonic()
            while not stop.is_set():
                if len(in_flight) < MAX_IN_FLIGHT:
                    task = asyncio.create_task(self.request(client, next(self.sequence)))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                next_at += interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
            if in_flight:
                await asyncio.wait(in_flight, timeout=CLIENT_TIMEOUT * (WORKFLOW_ATTEMPTS + 2))
