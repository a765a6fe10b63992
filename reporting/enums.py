"""Choices of the reporting app. Values are the API's: never rename one."""

from django.db import models


class ResalePriceKind(models.TextChoices):
    """How the MSP prices a vendor product to its own client, per month.

    - `fixed`: a flat amount per client per month, charged for every client billed for the
      product that month (prior-period adjustment lines alone do not charge it again);
    - `markup`: the month's vendor cost of that product for that client (net of the tier
      discount, adjustment lines included) plus a percentage;
    - `inherit`: only on a client override — from this month on, the client follows the
      product's price again (ends an override without rewriting the months it applied to).
    """

    FIXED = "fixed", "Fixed monthly price"
    MARKUP = "markup", "Markup % on vendor cost"
    INHERIT = "inherit", "Use the product's price"
