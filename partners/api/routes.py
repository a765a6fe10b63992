"""API resources of the partners app."""


def register(router) -> None:
    """Add the partners app's viewsets to the /api/v1/ router."""
