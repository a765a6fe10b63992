from django.db import models


class VendorRole(models.TextChoices):
    """Roles of vendor staff in the console."""

    ADMIN = "admin", "Admin"
    CHANNEL_MANAGER = "channel_manager", "Channel manager"
    FINANCE = "finance", "Finance"
    ENABLEMENT = "enablement", "Enablement"
    SUPPORT = "support", "Support"
    ANALYST = "analyst", "Analyst"


class PartnerRole(models.TextChoices):
    """Roles of an MSP's users in the partner portal (membership arrives with the partners app)."""

    OWNER = "owner", "Owner"
    BILLING = "billing", "Billing"
    TECHNICIAN = "technician", "Technician"
    VIEWER = "viewer", "Viewer"


class ApiKeyScope(models.TextChoices):
    VENDOR = "vendor", "Vendor (whole tenant)"
    PARTNER = "partner", "Partner (one partner's data)"
