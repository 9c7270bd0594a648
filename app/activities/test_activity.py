"""The demo activity: builds a greeting (stands in for real side-effecting work)."""

from temporalio import activity


@activity.defn(name="compose_greeting")
async def compose_greeting(name: str) -> str:
    activity.logger.info("composing greeting for %s", name)
    return f"Hello, {name}!"
