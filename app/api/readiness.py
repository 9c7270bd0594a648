"""Whether this instance should get traffic: not while starting, not once shutdown began.

Readiness says nothing about shared dependencies: a Redis blip must not take every API
replica out of its Service at once (that is `/health`'s and the alerts' job).
"""

from typing import Literal

State = Literal["starting", "ready", "draining"]


class Readiness:
    def __init__(self) -> None:
        self.state: State = "starting"

    @property
    def is_ready(self) -> bool:
        return self.state == "ready"

    def started(self) -> None:
        if self.state == "starting":
            self.state = "ready"

    def draining(self) -> None:
        self.state = "draining"
