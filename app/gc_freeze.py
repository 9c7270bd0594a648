"""Start-up objects out of the cyclic garbage collector's way.

Once started, a process holds some 160,000 long-lived objects (modules, classes, pydantic
schemas, the clients of every dependency) and every full collection walks all of them. Under
load in the API a full collection came every second or so and stalled the event loop for
100-380 ms, the p99 of every request in flight (`bench/RESULTS.md`, section 3). Frozen
objects sit in a permanent generation the collector no longer scans; what requests allocate
is still collected as before.
"""

import gc


def freeze_startup_objects() -> int:
    """Collect start-up garbage, then freeze what is left; returns how many objects froze."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
