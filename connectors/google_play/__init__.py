"""Google Play reviews (Google Play Developer API, androidpublisher v3)."""

from connectors.google_play.connector import GooglePlayConnector

CONNECTOR = GooglePlayConnector
__all__ = ["CONNECTOR", "GooglePlayConnector"]
