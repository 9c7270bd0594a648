"""Temporal activities of the demo scenario."""
