"""Temporal client and worker wiring."""
