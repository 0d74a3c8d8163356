"""Hacker News, read-only, through the Algolia search API."""

from connectors.hackernews.connector import CONNECTOR, HackerNewsConnector

__all__ = ["CONNECTOR", "HackerNewsConnector"]
