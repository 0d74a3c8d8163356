"""YouTube comments under the channel's videos (google-api-python-client)."""

from connectors.youtube.connector import CONNECTOR, YouTubeConnector

__all__ = ["CONNECTOR", "YouTubeConnector"]
