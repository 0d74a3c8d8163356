"""Trustpilot service reviews of a business unit (Trustpilot's Business Units API)."""

from connectors.trustpilot.connector import TrustpilotConnector

CONNECTOR = TrustpilotConnector
__all__ = ["CONNECTOR", "TrustpilotConnector"]
