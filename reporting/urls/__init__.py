"""URL pattern lists of the reporting app, merged into the console and portal namespaces."""
