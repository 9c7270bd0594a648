"""CPU time of a whole server process, read from the kernel: what a request costs where users pay.

`/proc/<pid>/task/<tid>/schedstat` gives each thread's time on a CPU in nanoseconds (the first
field); their sum over the process's threads is the process's CPU time, at a far finer grain
than the clock ticks of `/proc/<pid>/stat`. A thread that ends between two readings takes its
time with it; the servers measured here keep their threads for their whole life.
"""

from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by every thread of `pid`."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
    return total / 1e9


def microseconds_per_request(cpu_before: float, cpu_after: float, requests: int) -> float:
    if requests <= 0:
        raise ValueError("no request was served in the round")
    return (cpu_after - cpu_before) / requests * 1e6
