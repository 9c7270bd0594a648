"""The local stack's log writer: rotation by size at line ends, a bounded number of old files,
and `tail -F` (what `make logs` runs) following the log across a rotation."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from devstack import process
from devstack.config import PROJECT_ROOT
from devstack.logpipe import KEPT_FILES, copy


def test_rotates_at_line_ends_and_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    read_end, write_end = os.pipe()
    lines = [f"line {number:05d} {'x' * 40}\n".encode() for number in range(2000)]

    def service() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as writer:
            for line in lines:  # small writes, as a service's output arrives
                writer.write(line)

    talking = threading.Thread(target=service)
    talking.start()
    copy(read_end, log, max_bytes=10_000)
    talking.join(10)
    os.close(read_end)

    files = sorted(tmp_path.iterdir())
    assert [path.name for path in files] == ["service.log"] + [
        f"service.log.{number}" for number in range(1, KEPT_FILES + 1)
    ]
    for path in files:
        text = path.read_bytes()
        assert len(text) <= 10_000
        assert text.endswith(b"\n")  # no line is cut in two
    kept = b"".join(path.read_bytes() for path in reversed(files[1:])) + files[0].read_bytes()
    assert kept == b"".join(lines)[-len(kept) :]  # the newest output, in order, nothing lost


def test_a_spawned_service_log_rotates_and_tail_f_follows_it(tmp_path: Path) -> None:
    program = (
        "import sys, time\n"
        "for n in range(400):\n"
        "    print(f'message {n:04d} ' + 'y' * 60, flush=True)\n"
        "    time.sleep(0.002)\n"
    )
    service = process.spawn(
        tmp_path,
        "talker",
        [sys.executable, "-c", program],
        env={**os.environ, "SBS_LOG_MAX_BYTES": "4000"},
        cwd=PROJECT_ROOT,
    )
    log = process.log_file(tmp_path, "talker")
    while not log.exists():
        time.sleep(0.01)
    follower = subprocess.Popen(
        ["tail", "-n", "+1", "-F", str(log)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        service.wait(30)
        deadline = time.monotonic() + 10
        while "message 0399" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # tail -F notices a replaced file within its 1 s poll
    finally:
        follower.terminate()
    followed = follower.communicate(timeout=10)[0].decode()
    assert (tmp_path / "logs" / "talker.log.1").exists()  # it rotated
    assert "message 0399" in followed  # and tail -F followed into the new file
