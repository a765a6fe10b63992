"""Console pages of the accounts app, mounted in the `console` namespace."""

urlpatterns: list = []
