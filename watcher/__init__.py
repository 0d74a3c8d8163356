"""The social care watcher: the service core."""

__version__ = "0.1.0"
