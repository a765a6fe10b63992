"""Usage events (in each vendor's schema): append-only, idempotent by `event_id`.

Written only by `billing.ingest` with one multi-row INSERT … ON CONFLICT (event_id) DO NOTHING per
batch; never updated. `partner` is stored next to `client` (a client never changes partner) so
that month-end rating groups by partner without a join.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

__all__ = ["QUANTITY_DIGITS", "UsageEvent"]

# Up to 6 decimals (GB-hours, fractions of an API call pack); 14 integer digits.
QUANTITY_DIGITS = {"max_digits": 20, "decimal_places": 6}


class UsageEvent(models.Model):
    id = models.BigAutoField(primary_key=True)  # bigint identity: billions of rows per tenant
    event_id = models.CharField(max_length=255)
    # FK indexes are the explicit ones below (each index slows every ingest): no automatic ones.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    client = models.ForeignKey(
        "partners.Client", on_delete=models.PROTECT, related_name="usage_events", db_index=False
    )
    meter = models.ForeignKey(
        "billing.Meter", on_delete=models.PROTECT, related_name="usage_events", db_index=False
    )
    quantity = models.DecimalField(**QUANTITY_DIGITS)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    # For a unique_count meter's events: `properties->>(the meter's unique property)`, copied out
    # by ingest (and rewritten when the meter's property changes), so that month-end rating
    # counts distinct values from the rating index alone instead of reading every event's
    # properties from the table. Null for other meters' events (and when the property is absent).
    unique_value = models.TextField(null=True, blank=True)
    received_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            # The idempotency key: the schema is the tenant, so unique here = unique per tenant.
            # Ingest relies on it (ON CONFLICT (event_id) DO NOTHING).
            models.UniqueConstraint(fields=["event_id"], name="billing_usage_event_id_unique"),
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="billing_usage_quantity_not_negative"
            ),
        ]
        indexes = [
            # Month-end rating fans out in chunks of partners and aggregates one period:
            # WHERE partner_id = ANY(chunk) AND timestamp >= start AND timestamp < end
            # GROUP BY partner, client, meter — a range scan per partner; client and meter in
            # the key keep the grouping columns in the index, and the quantity included lets
            # sum, count and max meters be aggregated from the index alone (an index-only scan:
            # a chunk's events are spread over every page of the period, the index keeps them
            # together); so does the unique value, for distinct counts.
            models.Index(
                fields=["partner", "timestamp", "client", "meter"],
                include=["quantity", "unique_value"],
                name="billing_usage_rating_q_idx",
            ),
            # The per-client usage page and running estimate (one client's meters over a month),
            # and the PROTECT check when a client is deleted.
            models.Index(fields=["client", "meter", "timestamp"], name="billing_usage_client_idx"),
        ]

    def __str__(self) -> str:
        return self.event_id
