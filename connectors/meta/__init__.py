"""Meta's Graph API: a Facebook Page and an Instagram professional account."""

from connectors.meta.facebook import FacebookConnector
from connectors.meta.instagram import InstagramConnector

__all__ = ["FacebookConnector", "InstagramConnector"]
