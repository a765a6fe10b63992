# Joins the two billing migrations written in parallel (subscriptions; usage events).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_subscriptions"),
        ("billing", "0002_usage_events"),
    ]

    operations = []
