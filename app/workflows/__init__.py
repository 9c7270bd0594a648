"""Temporal workflows; modules here import nothing but temporalio and the standard library."""
