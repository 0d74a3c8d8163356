"""Platform connectors: one module per platform, all keeping connectors.base.Connector."""
