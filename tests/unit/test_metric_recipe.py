"""The README's recipe for a metric of one's own works as written: its code block, run as is,
puts the metric on the API's /metrics."""

import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.telemetry import configure_telemetry

README = Path(__file__).resolve().parents[2] / "README.md"


def recipe_block() -> str:
    section = README.read_text(encoding="utf-8").split("## Своя метрика\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "no python block in the README's metric recipe"
    return found.group(1)


async def test_the_readme_metric_recipe_puts_its_metric_on_metrics() -> None:
    exec(compile(recipe_block(), "README.md", "exec"), {})  # noqa: S102 - our own README
    app = FastAPI()
    configure_telemetry(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        exposition = (await client.get("/metrics")).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    assert samples[("sbs_notes_created_total", (("source", "api"),))] == 1
