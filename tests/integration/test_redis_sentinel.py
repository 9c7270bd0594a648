"""Redis behind Sentinel: an API given REDIS_SENTINELS follows Sentinel's promotion of the
replica after the master is SIGKILLed or frozen: `/redis/test` answers 200 again within 5 s of
the promotion, `/health` follows, and no response is a 500. A frozen Sentinel costs a bounded
wait, not a hang.

One Valkey master, its replica and three Sentinels (devstack/servers/redis_sentinel.py) serve
the whole module; after each fault the lost master comes back as the new master's replica.
"""

import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from app.config import Settings
from devstack import process
from devstack.config import StackConfig
from devstack.servers import redis_sentinel
from devstack.servers.group import ServerGroup
from devstack.servers.redis_sentinel import MASTER, REPLICA, SENTINELS, port_name
from tests.integration.failover import (
    Outcome,
    failures,
    record_calls,
    recovered_at,
    successes_since,
    summary,
)
from tests.integration.helpers import ApiProcess, api_process, frozen, kill, process_tree
from tests.waiting import poll, wait_for

MASTER_NAME = "sbs-cache"
DATA_PASSWORD = "data-pass-1"
SENTINEL_PASSWORD = "sentinel-pass-1"
# The acceptance bound: `/redis/test` answers 200 again within this long after the promotion.
RECOVERY_AFTER_PROMOTION_SECONDS = 5.0
# down-after-milliseconds (2 s) plus the election; generous for a loaded machine.
PROMOTION_SECONDS = 30.0
SETTINGS = Settings()
# Client-side scheduling on a loaded 2-core machine, not a tolerance for hanging.
MARGIN_SECONDS = 1.5


@pytest.fixture(scope="module")
def sentinels() -> Iterator[ServerGroup]:
    group = redis_sentinel.sentinel_group(MASTER_NAME, DATA_PASSWORD, SENTINEL_PASSWORD)
    try:
        group.up()
        yield group
    finally:
        group.down()


@pytest.fixture(scope="module")
def sentinel_api(stack: StackConfig, sentinels: ServerGroup) -> Iterator[ApiProcess]:
    with api_process(
        stack,
        REDIS_URL="redis://unused.invalid:6379/0",  # Sentinel mode ignores it
        REDIS_SENTINELS=redis_sentinel.sentinel_addresses(sentinels),
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD,
        REDIS_PASSWORD=DATA_PASSWORD,
    ) as started:
        started.wait_ready()
        yield started


def master_member(group: ServerGroup) -> str:
    """The data node Sentinel names as master now."""
    port = redis_sentinel.current_master(group, MASTER_NAME, SENTINEL_PASSWORD)
    (member,) = [name for name in (MASTER, REPLICA) if group.port(port_name(name)) == port]
    return member


def data_client(group: ServerGroup, member: str) -> redis.Redis:
    return redis_sentinel.client(group.port(port_name(member)), DATA_PASSWORD)


def follows(group: ServerGroup, replica: str) -> bool:
    """`replica` replicates from the current master, and every Sentinel knows it."""
    try:
        info = data_client(group, replica).info("replication")
    except (redis.RedisError, OSError):
        return False
    return (
        info.get("role") == "slave"
        and info.get("master_link_status") == "up"
        and group.settled(group.config)
    )


def watch_promotion(group: ServerGroup, old_master: str) -> dict[str, float]:
    """A thread noting when Sentinel first names another master than `old_master`."""
    seen: dict[str, float] = {}
    old_port = group.port(port_name(old_master))

    def watch() -> None:
        deadline = time.monotonic() + PROMOTION_SECONDS
        while time.monotonic() < deadline:
            port = redis_sentinel.current_master(group, MASTER_NAME, SENTINEL_PASSWORD)
            if port is not None and port != old_port:
                seen["promoted"] = time.monotonic()
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    return seen


def redis_test(client: httpx.Client, key: str) -> int:
    try:
        return client.post("/redis/test", json={"key": key, "value": "v"}).status_code
    except httpx.TransportError:
        return 0


@pytest.mark.parametrize("fault", ["sigkill", "sigstop"])
def test_the_api_follows_the_promoted_replica(
    sentinels: ServerGroup, sentinel_api: ApiProcess, fault: str
) -> None:
    old_master = master_member(sentinels)
    replica = REPLICA if old_master == MASTER else MASTER
    api = sentinel_api.client()
    assert redis_test(api, "before") == 200
    assert api.get("/health").status_code == 200
    promotion = watch_promotion(sentinels, old_master)
    pid = sentinels.pid(old_master)
    faulted_at = time.monotonic()
    tree = process_tree(pid)
    if fault == "sigkill":
        kill(sentinels.config, old_master)
    else:
        for member in tree:
            os.kill(member, signal.SIGSTOP)
    try:

        def settled(outcomes: list[Outcome]) -> bool:
            promoted = promotion.get("promoted")
            return promoted is not None and successes_since(outcomes, promoted) >= 3

        outcomes = record_calls(lambda: redis_test(api, "failover"), settled, PROMOTION_SECONDS)
        promoted = promotion.get("promoted")
        timeline = summary(outcomes, faulted_at)
        assert promoted is not None, f"no promotion within {PROMOTION_SECONDS}s: {timeline}"
        assert {o.status for o in outcomes} <= {200, 503}, timeline
        assert all(
            o.ended - o.started < SETTINGS.request_timeout + MARGIN_SECONDS for o in outcomes
        ), timeline
        recovered = recovered_at(outcomes)
        assert recovered is not None, timeline
        assert recovered - promoted <= RECOVERY_AFTER_PROMOTION_SECONDS, (
            f"promoted at {promoted - faulted_at:.1f}s: {timeline}"
        )
        assert failures(outcomes) or fault == "sigkill", "the frozen master went unnoticed"
        wait_for(lambda: api.get("/health").status_code == 200, RECOVERY_AFTER_PROMOTION_SECONDS)
        stored = data_client(sentinels, replica).get("sbs:test:failover")
        assert stored == "v", "the write did not reach the promoted replica"
        print(
            f"{fault}: promoted {promoted - faulted_at:.1f}s after the fault, 200 again "
            f"{recovered - promoted:.1f}s after the promotion: {timeline}"
        )
    finally:
        if fault == "sigkill":
            sentinels.start(old_master)
        else:
            for member in tree:
                os.kill(member, signal.SIGCONT)
        api.close()
    # The lost master comes back as the new master's replica (for the next fault).
    wait_for(lambda: follows(sentinels, old_master), PROMOTION_SECONDS, "the old master follows")


def test_a_frozen_sentinel_costs_a_bounded_wait(stack: StackConfig, sentinels: ServerGroup) -> None:
    """An API starting while the first Sentinel of REDIS_SENTINELS is frozen asks it, gives up
    after its timeout and asks the next: its calls answer within their bounds."""
    first = SENTINELS[0]
    with (
        frozen(sentinels.config, first),
        api_process(
            stack,
            REDIS_SENTINELS=redis_sentinel.sentinel_addresses(sentinels),
            REDIS_SENTINEL_MASTER=MASTER_NAME,
            REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD,
            REDIS_PASSWORD=DATA_PASSWORD,
        ) as fresh,
    ):
        fresh.wait_ready()
        with fresh.client() as api:
            started = time.monotonic()
            status = redis_test(api, "frozen-sentinel")
            seconds = time.monotonic() - started
            assert status == 200
            assert seconds < SETTINGS.request_timeout + MARGIN_SECONDS
            health = poll(lambda: api.get("/health"), lambda r: r.status_code == 200, 5)
            assert health.status_code == 200, health.text
    assert process.is_alive(sentinels.pid(first))
