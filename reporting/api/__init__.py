"""The reporting API (margin, resale prices)."""
