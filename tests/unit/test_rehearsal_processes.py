"""How the rehearsal knows a recorded process: by its start in clock ticks since boot, which no
clock adjustment moves, so a pid reused by another process is never taken for it."""

import subprocess
import sys

from rehearsal.processes import is_recorded, start_ticks


def test_a_recorded_process_is_known_until_it_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = start_ticks(child.pid)
        assert started is not None
        assert is_recorded(child.pid, started)
        assert not is_recorded(child.pid, started + 1), "another start on the same pid"
    finally:
        child.kill()
        child.wait()
    assert start_ticks(child.pid) is None
    assert not is_recorded(child.pid, started)
