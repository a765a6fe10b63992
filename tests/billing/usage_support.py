"""Helpers of the usage CSV tests: a vendor with two partners, clients and meters, and CSV files."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from billing.enums import Aggregation
from billing.models import Meter
from billing.usage_selectors import current_month, month_bounds
from partners.models import Client, Partner
from tests.conftest import TestVendor
from tests.factories import ClientFactory, PartnerFactory

HEADER = "event_id,client,meter,quantity,timestamp,properties\n"
CONSOLE_HEADER = "event_id,partner,client,meter,quantity,timestamp,properties\n"


@dataclass
class UsageWorld:
    tv: TestVendor
    alpha: Partner
    beta: Partner
    acme: Client  # Alpha's
    globex: Client  # Alpha's
    beta_acme: Client  # Beta's, the same external id as Alpha's ACME
    beta_only: Client  # Beta's
    storage: Meter  # max
    calls: Meter  # sum
    devices: Meter  # unique_count of device_id


def make_world(tv: TestVendor) -> UsageWorld:
    with schema_context(tv.schema):
        alpha = PartnerFactory(name="Alpha IT", external_id="P-ALPHA")
        beta = PartnerFactory(name="Beta IT", external_id="P-BETA")
        return UsageWorld(
            tv=tv,
            alpha=alpha,
            beta=beta,
            acme=ClientFactory(
                partner=alpha,
                name="Acme Corp",
                external_id="ACME",
                started_on=datetime.date(2025, 1, 1),
            ),
            globex=ClientFactory(
                partner=alpha,
                name="Globex",
                external_id="GLOBEX",
                started_on=datetime.date(2025, 1, 1),
            ),
            beta_acme=ClientFactory(
                partner=beta,
                name="Beta Acme",
                external_id="ACME",
                started_on=datetime.date(2025, 1, 1),
            ),
            beta_only=ClientFactory(
                partner=beta,
                name="Beta Only",
                external_id="BETA-ONLY",
                started_on=datetime.date(2025, 1, 1),
            ),
            storage=Meter.objects.create(
                code="storage_gb", name="Storage", unit="GB", aggregation=Aggregation.MAX
            ),
            calls=Meter.objects.create(
                code="api_calls", name="API calls", unit="call", aggregation=Aggregation.SUM
            ),
            devices=Meter.objects.create(
                code="devices",
                name="Devices",
                unit="device",
                aggregation=Aggregation.UNIQUE_COUNT,
                unique_property="device_id",
            ),
        )


def this_month_start(tv: TestVendor) -> datetime.datetime:
    """Midnight of the 1st of the current month in the vendor's time zone (in UTC): a time just
    after it is in the current billing month and never in the future."""
    with schema_context(tv.schema):
        return month_bounds(current_month())[0]


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def upload(content: str | bytes, name: str = "usage.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def valid_rows(count: int, *, start: int = 0, client: str = "ACME", when: str) -> str:
    return "".join(
        f"evt-{n:06d},{client},api_calls,{n % 7 + 1},{when},\n" for n in range(start, start + count)
    )
