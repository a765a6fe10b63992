"""Usage events keep their unique_count meter's property value in a column of its own
(`unique_value`), included in the rating index, so distinct counts are aggregated from the index
alone. Existing events are filled from their properties before the index is rebuilt."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0011_invoice_line_set_based_references"),
        ("partners", "0005_client_external_id_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="usageevent",
            name="billing_usage_rating_q_idx",
        ),
        migrations.AddField(
            model_name="usageevent",
            name="unique_value",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.RunSQL(
            """
            UPDATE billing_usageevent e SET unique_value = e.properties ->> m.unique_property
            FROM billing_meter m
            WHERE m.id = e.meter_id AND m.aggregation = 'unique_count'
              AND e.properties ? m.unique_property
            """,
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="usageevent",
            index=models.Index(
                fields=["partner", "timestamp", "client", "meter"],
                include=("quantity", "unique_value"),
                name="billing_usage_rating_q_idx",
            ),
        ),
    ]
