"""The state file: every namespace, link and process the tool makes is written here *before* it
is made, so `down` can undo all of it even after the tool itself was killed mid-way."""

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A fixed place (not a temporary name) so that a later `down` finds what a crashed `up` made.
# World-traversable: PostgreSQL and Patroni run as `nobody` under root.
DEFAULT_STATE_DIR = Path("/tmp/sbs-rehearsal")  # noqa: S108 - fixed on purpose, see above
STATE_DIR_VARIABLE = "SBS_REHEARSAL_DIR"


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_VARIABLE, DEFAULT_STATE_DIR))


@dataclass(frozen=True)
class Journal:
    """An append-only JSON-lines record of what was (about to be) made."""

    directory: Path

    @property
    def path(self) -> Path:
        return self.directory / "journal.jsonl"

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)

    def record(self, kind: str, **details: Any) -> None:
        """Append one entry and hand it to the kernel before the caller makes the thing. No
        fsync: the entry outlives the tool's death, which is what the journal is for, and a
        crash of the machine takes the namespaces, links and processes with it. An fsync per
        entry only made `up` wait on the disk behind every other writer."""
        with self.path.open("a") as stream:
            stream.write(json.dumps({"kind": kind, **details}) + "\n")

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first; a line torn by a crash is skipped."""
        with contextlib.suppress(FileNotFoundError):
            for line in self.path.read_text().splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    yield json.loads(line)
