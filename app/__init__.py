"""SBS Platform runtime: the API and the Temporal worker share this package."""

__version__ = "1.1.0"
