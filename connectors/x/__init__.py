"""X (Twitter): mentions, searches and conversations, and the public reply."""

from connectors.x.connector import XConnector

CONNECTOR = XConnector
__all__ = ["CONNECTOR", "XConnector"]
