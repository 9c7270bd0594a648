"""The demo activity: builds a greeting (stands in for real side-effecting work)."""

from dataclasses import dataclass

from temporalio import activity


@dataclass
class TestActivityInput:
    """One dataclass argument, as the Temporal samples do: fields can be added later without
    breaking the activity's signature for workflows already running."""

    __test__ = False  # not a pytest test class
    name: str


@activity.defn(name="compose_greeting")
async def compose_greeting(data: TestActivityInput) -> str:
    activity.logger.info("composing greeting for %s", data.name)
    return f"Hello, {data.name}!"
