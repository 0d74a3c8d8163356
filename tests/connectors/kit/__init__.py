"""The connector kit: contract tests every connector passes against its fake server."""
