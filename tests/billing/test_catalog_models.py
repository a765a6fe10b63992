"""The catalog's database constraints hold even for writes that skip the services, and every
vendor schema (cloned from the template) has them under the template's names."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from billing.models import Charge, ChargeTier, Meter, PricePlan, PricePlanVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(vendor_a):
    with schema_context(vendor_a.schema):
        plan = PricePlan.objects.create(code="p", name="P", currency="EUR")
        yield PricePlanVersion.objects.create(
            plan=plan, version=1, effective_from=datetime.date(2026, 1, 1)
        )


@pytest.fixture
def meter(version):
    return Meter.objects.create(code="gb", name="GB", unit="GB", aggregation="sum")


def violates(constraint: str, make) -> None:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make()
    assert constraint in str(caught.value)


def charge(version, **fields):
    defaults = {"version": version, "position": 0, "model": "per_unit", "unit_price": Decimal(1)}
    return Charge.objects.create(**{**defaults, **fields})


def test_a_charge_is_on_a_meter_or_on_seats_never_both_or_neither(version, meter):
    both = {"meter": meter, "seats": True, "counting_rule": "peak"}
    violates("billing_charge_meter_xor_seats", lambda: charge(version, **both))
    violates("billing_charge_meter_xor_seats", lambda: charge(version))
    charge(version, meter=meter)
    charge(version, position=1, seats=True, counting_rule="average")
    assert version.charges.count() == 2


def test_counting_rule_iff_seats(version, meter):
    violates(
        "billing_charge_counting_rule_iff_seats",
        lambda: charge(version, seats=True, counting_rule=""),
    )
    violates(
        "billing_charge_counting_rule_iff_seats",
        lambda: charge(version, meter=meter, counting_rule="peak"),
    )


def test_unique_property_is_required_for_unique_count_only(version):
    def meter(code, aggregation, prop):
        return lambda: Meter.objects.create(
            code=code, name=code, unit="x", aggregation=aggregation, unique_property=prop
        )

    violates("billing_meter_unique_property_iff_unique_count", meter("a", "unique_count", ""))
    violates("billing_meter_unique_property_iff_unique_count", meter("b", "sum", "device_id"))
    violates("billing_meter_aggregation_known", meter("c", "avg", ""))
    meter("d", "unique_count", "device_id")()
    assert Meter.objects.get(code="d").unique_property == "device_id"


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"unit_price": None}, "billing_charge_per_unit_has_unit_price"),
        ({"unit_price": Decimal("-0.01")}, "billing_charge_unit_price_not_negative"),
        ({"model": "package", "package_price": Decimal(1)}, "billing_charge_package_has_size"),
        ({"model": "package", "package_size": 0, "package_price": Decimal(1)}, "package_has_size"),
        ({"model": "package", "package_size": 5}, "billing_charge_package_has_size_and_price"),
        (
            {"model": "package", "package_size": 5, "package_price": Decimal(-1)},
            "billing_charge_package_price_not_negative",
        ),
        ({"model": "flat"}, "billing_charge_flat_has_fee"),
        ({"model": "flat", "flat_fee": Decimal(-5)}, "billing_charge_flat_fee_not_negative"),
        ({"pooled": True}, "billing_charge_only_tiered_models_pool"),
        ({"model": "tiered"}, "billing_charge_model_known"),
    ],
)
def test_each_charge_model_has_its_fields_and_no_negative_amounts(
    version, meter, fields, constraint
):
    violates(constraint, lambda: charge(version, meter=meter, **fields))


def test_tiers_have_one_open_end_positive_bounds_and_no_negative_prices(version, meter):
    graduated = charge(version, meter=meter, model="graduated", unit_price=None, pooled=True)

    def tier(position, up_to, **fields):
        return lambda: ChargeTier.objects.create(
            charge=graduated, position=position, up_to=up_to, **fields
        )

    tier(0, 10)()
    tier(1, None)()
    violates("billing_charge_tier_one_open_ended", tier(2, None))
    violates("billing_charge_tier_position_unique", tier(1, 20))
    violates("billing_charge_tier_up_to_positive", tier(3, 0))
    violates("billing_charge_tier_unit_price_not_negative", tier(4, 30, unit_price=Decimal(-1)))
    violates("billing_charge_tier_flat_fee_not_negative", tier(5, 40, flat_fee=Decimal(-1)))


def test_versions_start_on_the_first_of_a_month_once_per_plan(version):
    def make(number, day):
        return lambda: PricePlanVersion.objects.create(
            plan=version.plan, version=number, effective_from=day
        )

    violates("billing_plan_version_starts_on_first_of_month", make(2, datetime.date(2026, 2, 2)))
    violates("billing_plan_version_unique", make(1, datetime.date(2026, 3, 1)))
    violates("billing_plan_version_month_unique", make(2, datetime.date(2026, 1, 1)))
    violates("billing_plan_version_positive", make(0, datetime.date(2026, 4, 1)))
    make(2, datetime.date(2026, 2, 1))()
    assert version.plan.versions.count() == 2


def constraints(schema: str) -> dict[str, set[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT rel.relname, con.conname FROM pg_constraint con
            JOIN pg_class rel ON rel.oid = con.conrelid
            JOIN pg_namespace ns ON ns.oid = rel.relnamespace
            WHERE ns.nspname = %s AND rel.relname LIKE 'billing\\_%%'
            UNION
            SELECT tablename, indexname FROM pg_indexes
            WHERE schemaname = %s AND tablename LIKE 'billing\\_%%'
            """,
            [schema, schema],
        )
        found: dict[str, set[str]] = {}
        for table, name in cursor.fetchall():
            found.setdefault(table, set()).add(name)
        return found


def test_cloned_vendor_schemas_have_the_catalog_under_the_templates_names(vendor_a, vendor_b):
    template = constraints("tenant_template")
    # At least the catalog's tables (later billing tables are compared below just the same).
    assert set(template) >= {
        "billing_product",
        "billing_meter",
        "billing_priceplan",
        "billing_priceplanversion",
        "billing_charge",
        "billing_chargetier",
    }
    assert {
        "billing_charge_meter_xor_seats",
        "billing_charge_counting_rule_iff_seats",
        "billing_charge_only_tiered_models_pool",
    } <= template["billing_charge"]
    assert "billing_charge_tier_one_open_ended" in template["billing_chargetier"]
    assert constraints(vendor_a.schema) == template
    assert constraints(vendor_b.schema) == template
