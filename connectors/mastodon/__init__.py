"""Mastodon (and compatible servers) through Mastodon.py."""

from connectors.mastodon.connector import CONNECTOR, MastodonConnector

__all__ = ["CONNECTOR", "MastodonConnector"]
