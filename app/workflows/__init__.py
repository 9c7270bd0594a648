"""Temporal workflows; modules here import nothing but temporalio and the standard library
(and the activities they call, passed through the sandbox)."""
