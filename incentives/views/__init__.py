"""Console and portal pages of the incentives app."""
