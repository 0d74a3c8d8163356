"""App Store reviews (App Store Connect API)."""

from connectors.app_store.connector import AppStoreConnector

CONNECTOR = AppStoreConnector
__all__ = ["CONNECTOR", "AppStoreConnector"]
