"""The rating index includes the event's quantity, so month-end rating aggregates sum, count and
max meters from the index alone (an index-only scan) instead of reading every page of the period
for each chunk of partners. Built concurrently before the old one goes: ingest keeps writing and
rating always has an index."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("billing", "0005_invoice_invariants")]

    operations = [
        AddIndexConcurrently(
            model_name="usageevent",
            index=models.Index(
                fields=["partner", "timestamp", "client", "meter"],
                include=["quantity"],
                name="billing_usage_rating_q_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="usageevent", name="billing_usage_rating_idx"),
    ]
