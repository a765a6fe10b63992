"""Billing pages: plain pattern lists per area, merged into the console and portal namespaces by
msp_program/urls_console.py and urls_portal.py."""
