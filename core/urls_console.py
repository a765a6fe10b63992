"""Console pages of core (the audit log), mounted in the `console` namespace."""

urlpatterns: list = []
