"""The prose of RESULTS.md: how each section measures, and what a missed goal comes from."""

METHOD = {
    "1": "placeholder",
}

# Shown under the table for a result that missed its goal, keyed by section.
WHEN_MISSED: dict[str, str] = {}
