"""Bluesky over the AT Protocol (the atproto SDK)."""

from connectors.bluesky.connector import CONNECTOR, BlueskyConnector

__all__ = ["CONNECTOR", "BlueskyConnector"]
