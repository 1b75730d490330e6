"""mimeia console: one web UI over the platform's services."""

__version__ = "0.1.0"
