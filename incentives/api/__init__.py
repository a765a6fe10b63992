"""API resources of the incentives app."""
