"""Copy a service's output into its log file, rotating the file by size.

`python -m devstack.logpipe FILE` reads its standard input until the service closes it. When
FILE would pass MAX_LOG_BYTES it becomes FILE.1 (FILE.1 becomes FILE.2, and so on; KEPT_FILES
old files are kept), cut at a line end, and a new FILE starts: a long-running stack never
fills the disk, and `tail -F` (`make logs`) follows the new file by name.
"""

import os
import sys
from pathlib import Path
from typing import BinaryIO

MAX_LOG_BYTES = 10 * 1024 * 1024
KEPT_FILES = 3
CHUNK_BYTES = 64 * 1024


def rotate(path: Path) -> None:
    for number in range(KEPT_FILES - 1, 0, -1):
        older = path.with_name(f"{path.name}.{number}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{number + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))


def copy(source: int, path: Path, max_bytes: int = MAX_LOG_BYTES) -> None:
    log: BinaryIO = path.open("ab", buffering=0)
    try:
        size = log.tell()
        while chunk := os.read(source, CHUNK_BYTES):
            while size + len(chunk) > max_bytes:
                # Fill the file up to its last whole line that fits, then start the next one;
                # a single line longer than a whole file goes in whole.
                line_end = chunk.rfind(b"\n", 0, max_bytes - size) + 1
                if line_end == 0 and size == 0:
                    line_end = chunk.find(b"\n") + 1 or len(chunk)
                log.write(chunk[:line_end])
                chunk = chunk[line_end:]
                log.close()
                rotate(path)
                log = path.open("ab", buffering=0)
                size = 0
            log.write(chunk)
            size += len(chunk)
    finally:
        log.close()


if __name__ == "__main__":
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else MAX_LOG_BYTES
    copy(sys.stdin.fileno(), Path(sys.argv[1]), limit)
