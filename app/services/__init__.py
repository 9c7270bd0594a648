"""Clients of the platform's dependencies; each connects lazily and reports failures by name."""
