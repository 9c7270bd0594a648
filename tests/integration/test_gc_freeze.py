"""The API and the worker freeze their start-up objects, so full collections stay short."""

import gc
import json

import pytest

from app.gc_freeze import freeze_startup_objects
from devstack import process
from devstack.config import StackConfig


def test_freezing_takes_live_objects_out_of_every_generation() -> None:
    survivors = [[index] for index in range(50_000)]  # tracked containers, alive at "start-up"
    try:
        frozen = freeze_startup_objects()
        scanned_ids = {id(obj) for obj in gc.get_objects()}
        assert frozen >= len(survivors)
        assert not any(id(item) in scanned_ids for item in survivors[:1000])
    finally:
        gc.unfreeze()
    assert id(survivors[0]) in {id(obj) for obj in gc.get_objects()}


@pytest.mark.parametrize(
    ("service", "message"), [("api", "api ready"), ("worker", "worker started")]
)
def test_the_process_froze_its_start_up_objects_before_taking_work(
    stack: StackConfig, service: str, message: str
) -> None:
    started = [
        json.loads(line)
        for line in process.log_file(stack.state_dir, service).read_text().splitlines()
        if f'"message":"{message}"' in line
    ]
    assert started, f"no '{message}' line in the {service} log"
    # Modules, classes and the clients of every dependency: well over 50,000 objects.
    assert started[-1]["gc_frozen_objects"] > 50_000, started[-1]
