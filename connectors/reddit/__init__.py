"""Reddit: subreddits, keyword search and the brand inbox, and the public reply."""

from connectors.reddit.connector import RedditConnector

CONNECTOR = RedditConnector
__all__ = ["CONNECTOR", "RedditConnector"]
