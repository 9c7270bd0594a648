"""What a rehearsal records: every request the load generator made, every fault's window, and
what was read back after the system settled. The checker reads only this, so it can be tested
on recorded histories."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Request:
    """One request through the load balancer; `status` None: no answer (timeout, refused)."""

    route: str
    started: float  # seconds since the run began
    ended: float
    timeout: float  # the client's own bound
    status: int | None
    key: str | None = None  # PUT /settings/{key}
    value: str | None = None
    idempotency_key: str | None = None  # POST /test-workflow
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def failed(self) -> bool:
        return not self.acknowledged

    @property
    def duration(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Fault:
    kind: str  # one of faults.BOUNDS
    target: str  # the host(s) it hit
    started: float
    ended: float  # when it was healed
    primary_isolated: bool = False  # a partition or split that took the database primary away
    delayed_connections: int | None = None  # latency: connections through the delay proxy


@dataclass
class Observed:
    """Read after the faults healed and the system settled."""

    settings: dict[str, str] = field(default_factory=dict)  # key -> value, from the primary
    standby_caught_up: bool = True
    # idempotency key -> the statuses of every run whose workflow id carries that key
    workflow_runs: dict[str, list[str]] = field(default_factory=dict)
    unexpected_exits: list[str] = field(default_factory=list)  # processes not killed on purpose
    leaked: list[str] = field(default_factory=list)  # processes left after down


@dataclass
class History:
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    observed: Observed = field(default_factory=Observed)
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "History":
        return cls(
            requests=[Request(**item) for item in document["requests"]],
            faults=[Fault(**item) for item in document["faults"]],
            observed=Observed(**document["observed"]),
            duration=float(document.get("duration", 0.0)),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()))

    @classmethod
    def load(cls, path: Path) -> "History":
        return cls.from_json(json.loads(path.read_text()))
