"""Catalog services: every validation rule (exact message and field, nothing saved), audit rows,
plan versioning in the vendor's time zone, and the version-for-a-month selector."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.errors import BillingError
from billing.models import Charge, ChargeTier, Meter, PricePlan, PricePlanVersion, Product
from billing.selectors import price_plan_version_for, price_plans_with_versions, version_in_effect
from billing.services.catalog import (
    meter_create,
    meter_update,
    price_plan_create,
    price_plan_revise,
    product_create,
)
from core.actors import Actor
from core.models import AuditEntry

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("catalog tests")
# Vendor A's time zone is Europe/Berlin: 14:00 UTC on 15 March 2026 is 15:00 there.
NOW = datetime.datetime(2026, 3, 15, 14, 0, tzinfo=datetime.UTC)


def freeze(monkeypatch, moment: datetime.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture
def vendor(vendor_a, monkeypatch):
    freeze(monkeypatch, NOW)
    with tenant_context(vendor_a.vendor):
        meter_create(code="storage_gb", name="Storage", unit="GB", aggregation="sum", actor=ACTOR)
        meter_create(
            code="devices",
            name="Managed devices",
            unit="device",
            aggregation="unique_count",
            unique_property="device_id",
            actor=ACTOR,
        )
        yield vendor_a


def rows() -> dict:
    """Everything a refused call must leave as it was."""
    return {
        "products": list(Product.objects.order_by("pk").values()),
        "meters": list(Meter.objects.order_by("pk").values()),
        "plans": PricePlan.objects.count(),
        "versions": PricePlanVersion.objects.count(),
        "charges": Charge.objects.count(),
        "tiers": ChargeTier.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def refused(call, *, field: str, message: str) -> None:
    before = rows()
    with pytest.raises(BillingError) as caught:
        call()
    assert (caught.value.field, str(caught.value)) == (field, message)
    assert rows() == before


GRADUATED = {
    "meter": "storage_gb",
    "model": "graduated",
    "tiers": [
        {"up_to": 100, "unit_price": "0.10", "flat_fee": "5.00"},
        {"up_to": 1000, "unit_price": "0.08"},
        {"up_to": None, "unit_price": "0.0525"},
    ],
    "pooled": True,
}
SEATS = {"seats": True, "model": "per_unit", "unit_price": "3.50", "counting_rule": "average"}


def plan(code: str = "standard", charges=None, **kwargs) -> PricePlan:
    return price_plan_create(
        code=code,
        name="Standard",
        currency=kwargs.pop("currency", "EUR"),
        charges=charges if charges is not None else [SEATS, GRADUATED],
        actor=ACTOR,
        **kwargs,
    )


# --- products and meters ---------------------------------------------------------------------


def test_product_create_is_audited_and_codes_are_unique(vendor):
    product = product_create(
        code="backup", name=" Cloud Backup ", description="Offsite", actor=ACTOR
    )
    assert (product.code, product.name, product.description) == (
        "backup",
        "Cloud Backup",
        "Offsite",
    )
    entry = AuditEntry.objects.get(action="product.created")
    assert entry.object_id == str(product.pk)
    assert entry.after["name"] == "Cloud Backup"
    refused(
        lambda: product_create(code="backup", name="Again", actor=ACTOR),
        field="code",
        message="There is already a product “backup”.",
    )


def test_meter_create_stores_the_fields_and_an_audit_row(vendor):
    product = product_create(code="rmm", name="RMM", actor=ACTOR)
    meter = meter_create(
        code="api.calls-v2",
        name=" API calls ",
        unit="call",
        aggregation="count",
        product=product,
        actor=ACTOR,
    )
    meter.refresh_from_db()
    assert (meter.code, meter.name, meter.unit, meter.aggregation, meter.unique_property) == (
        "api.calls-v2",
        "API calls",
        "call",
        "count",
        "",
    )
    assert meter.product_id == product.pk
    entry = AuditEntry.objects.get(action="meter.created", object_id=str(meter.pk))
    assert entry.after["code"] == "api.calls-v2"
    assert entry.actor_label == "catalog tests"


METER = {"code": "tickets", "name": "Tickets", "unit": "ticket", "aggregation": "count"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"code": ""}, "code", "A code is required."),
        (
            {"code": "has space"},
            "code",
            "Codes are 1–64 letters, digits, “_”, “.” or “-”, starting with a letter or digit.",
        ),
        (
            {"code": "-lead"},
            "code",
            "Codes are 1–64 letters, digits, “_”, “.” or “-”, starting with a letter or digit.",
        ),
        ({"code": "storage_gb"}, "code", "There is already a meter “storage_gb”."),
        ({"name": "  "}, "name", "A name is required."),
        ({"unit": ""}, "unit", "A unit is required."),
        ({"unit": "x" * 51}, "unit", "A unit is at most 50 characters."),
        (
            {"aggregation": "avg"},
            "aggregation",
            "“avg” is not an aggregation; use one of sum, count, max, unique_count, latest.",
        ),
        (
            {"aggregation": "unique_count"},
            "unique_property",
            "A unique_count meter counts distinct values of one event property: name it.",
        ),
        (
            {"unique_property": "device_id"},
            "unique_property",
            "Only unique_count meters have a unique property.",
        ),
    ],
)
def test_meter_create_refuses_bad_input(vendor, changes, field, message):
    refused(lambda: meter_create(actor=ACTOR, **{**METER, **changes}), field=field, message=message)


def test_meter_update_changes_the_name_and_never_the_code(vendor):
    meter = Meter.objects.get(code="storage_gb")
    refused(
        lambda: meter_update(meter=meter, code="storage", actor=ACTOR),
        field="code",
        message="A meter's code cannot change once it is created.",
    )
    meter_update(meter=meter, name="Backup storage", code="storage_gb", actor=ACTOR)
    meter.refresh_from_db()
    assert (meter.code, meter.name) == ("storage_gb", "Backup storage")
    entry = AuditEntry.objects.get(action="meter.updated")
    assert (entry.before, entry.after) == ({"name": "Storage"}, {"name": "Backup storage"})


def test_meter_aggregation_is_fixed_once_a_started_version_bills_it(vendor):
    storage = Meter.objects.get(code="storage_gb")
    devices = Meter.objects.get(code="devices")
    # storage is billed from this month (started); devices only from next month.
    plan(code="now", charges=[GRADUATED])
    plan(
        code="later",
        charges=[{"meter": "devices", "model": "per_unit", "unit_price": "1"}],
        effective_from=datetime.date(2026, 4, 1),
    )
    refused(
        lambda: meter_update(meter=storage, aggregation="max", actor=ACTOR),
        field="aggregation",
        message="Price plans in effect bill this meter: its aggregation cannot change. "
        "Create a new meter instead.",
    )
    meter_update(meter=devices, aggregation="max", actor=ACTOR)
    devices.refresh_from_db()
    # Leaving unique_count drops the property, as the database requires.
    assert (devices.aggregation, devices.unique_property) == ("max", "")


# --- price plans -----------------------------------------------------------------------------


def test_price_plan_create_writes_version_1_with_every_charge_model(vendor):
    charges = [
        SEATS,
        GRADUATED,
        {
            "meter": "devices",
            "model": "volume",
            "tiers": [{"up_to": 10, "unit_price": "2"}, {"unit_price": "1.5", "flat_fee": "20"}],
        },
        {"meter": "storage_gb", "model": "package", "package_size": 50, "package_price": "9.99"},
        {"seats": True, "model": "flat", "flat_fee": "49", "counting_rule": "snapshot"},
    ]
    created = plan(charges=charges, effective_from=datetime.date(2026, 2, 1))
    version = created.versions.get()
    assert (created.code, created.currency, version.version, version.effective_from) == (
        "standard",
        "EUR",
        1,
        datetime.date(2026, 2, 1),
    )
    got = [
        (
            c.position,
            c.meter.code if c.meter else None,
            c.seats,
            c.model,
            c.unit_price,
            c.package_size,
            c.package_price,
            c.flat_fee,
            c.pooled,
            c.counting_rule,
            [(t.position, t.up_to, t.unit_price, t.flat_fee) for t in c.tiers.order_by("position")],
        )
        for c in version.charges.order_by("position")
    ]
    d = Decimal
    assert got == [
        (0, None, True, "per_unit", d("3.5"), None, None, None, False, "average", []),
        (
            1,
            "storage_gb",
            False,
            "graduated",
            None,
            None,
            None,
            None,
            True,
            "",
            [(0, 100, d("0.1"), d("5")), (1, 1000, d("0.08"), d(0)), (2, None, d("0.0525"), d(0))],
        ),
        (
            2,
            "devices",
            False,
            "volume",
            None,
            None,
            None,
            None,
            False,
            "",
            [(0, 10, d(2), d(0)), (1, None, d("1.5"), d(20))],
        ),
        (3, "storage_gb", False, "package", None, 50, d("9.99"), None, False, "", []),
        (4, None, True, "flat", None, None, None, d(49), False, "snapshot", []),
    ]
    entry = AuditEntry.objects.get(action="price_plan.created")
    assert entry.after["code"] == "standard"
    assert entry.after["version"] == 1
    assert entry.after["effective_from"] == "2026-02-01"
    assert entry.after["charges"][1]["tiers"][2] == {
        "up_to": None,
        "unit_price": "0.052500",
        "flat_fee": "0.00",
    }


def test_price_plan_create_defaults_to_this_month_in_the_vendors_time_zone(vendor, monkeypatch):
    # 23:30 UTC on 31 March is already 1 April in Berlin.
    freeze(monkeypatch, datetime.datetime(2026, 3, 31, 23, 30, tzinfo=datetime.UTC))
    created = plan()
    assert created.versions.get().effective_from == datetime.date(2026, 4, 1)


def tiers(*up_tos):
    return [{"up_to": up_to, "unit_price": "1"} for up_to in up_tos]


PLAN_RULES = [
    # (charges, field, message)
    ([], "charges", "A price plan needs at least one charge."),
    ("nope", "charges", "Charges are a list."),
    (["x"], "charges[0]", "A charge is an object."),
    (
        [SEATS, {"model": "flat", "flat_fee": "1"}],
        "charges[1].meter",
        'Name a meter, or set "seats": true.',
    ),
    (
        [{"meter": "storage_gb", "seats": True, "model": "flat", "flat_fee": "1"}],
        "charges[0].seats",
        "A charge is on a meter or on seats, not both.",
    ),
    (
        [{"meter": "nope", "model": "flat", "flat_fee": "1"}],
        "charges[0].meter",
        "There is no meter “nope”.",
    ),
    ([{"meter": "storage_gb"}], "charges[0].model", "Choose the charge model."),
    (
        [{"meter": "storage_gb", "model": "tiered"}],
        "charges[0].model",
        "“tiered” is not a charge model; use one of per_unit, graduated, volume, package, flat.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "1", "colour": "red"}],
        "charges[0].colour",
        "Unknown charge field.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit"}],
        "charges[0].unit_price",
        "A per_unit charge needs a unit price.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "1", "flat_fee": "2"}],
        "charges[0].flat_fee",
        "A per_unit charge has no flat_fee.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "1", "tiers": tiers(None)}],
        "charges[0].tiers",
        "A per_unit charge has no tiers.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "-0.01"}],
        "charges[0].unit_price",
        "Prices cannot be negative.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "0.0000001"}],
        "charges[0].unit_price",
        "Unit prices have at most 6 decimal places.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "abc"}],
        "charges[0].unit_price",
        "“abc” is not a decimal number.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": 0.1}],
        "charges[0].unit_price",
        'Give amounts as decimal strings, e.g. "0.05".',
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "1000000000000"}],
        "charges[0].unit_price",
        "That price is too large.",
    ),
    (
        [{"meter": "storage_gb", "model": "graduated"}],
        "charges[0].tiers",
        "A graduated charge needs at least one tier.",
    ),
    (
        [{"meter": "storage_gb", "model": "volume", "tiers": []}],
        "charges[0].tiers",
        "A volume charge needs at least one tier.",
    ),
    (
        [{"meter": "storage_gb", "model": "graduated", "tiers": tiers(10, 20)}],
        "charges[0].tiers[1].up_to",
        "The last tier has no upper bound: set up_to to null.",
    ),
    (
        [{"meter": "storage_gb", "model": "graduated", "tiers": tiers(10, None, None)}],
        "charges[0].tiers[1].up_to",
        "Only the last tier is open-ended; this one needs up_to.",
    ),
    (
        [{"meter": "storage_gb", "model": "graduated", "tiers": tiers(10, 10, None)}],
        "charges[0].tiers[1].up_to",
        "Tiers go up: up_to must be above the previous tier's (10).",
    ),
    (
        [{"meter": "storage_gb", "model": "volume", "tiers": tiers(50, 20, None)}],
        "charges[0].tiers[1].up_to",
        "Tiers go up: up_to must be above the previous tier's (50).",
    ),
    (
        [{"meter": "storage_gb", "model": "graduated", "tiers": tiers(0, None)}],
        "charges[0].tiers[0].up_to",
        "up_to is a whole number, at least 1.",
    ),
    (
        [{"meter": "storage_gb", "model": "graduated", "tiers": tiers("1.5", None)}],
        "charges[0].tiers[0].up_to",
        "up_to is a whole number, at least 1.",
    ),
    (
        [{"meter": "storage_gb", "model": "graduated", "tiers": [{"up_to": None}]}],
        "charges[0].tiers[0].unit_price",
        'A tier needs a unit price ("0" for none).',
    ),
    (
        [
            {
                "meter": "storage_gb",
                "model": "graduated",
                "tiers": [{"up_to": None, "unit_price": "1", "flat_fee": "0.001"}],
            }
        ],
        "charges[0].tiers[0].flat_fee",
        "EUR amounts have at most 2 decimal places.",
    ),
    (
        [
            {
                "meter": "storage_gb",
                "model": "graduated",
                "tiers": [{"up_to": None, "unit_price": "1", "upto": 5}],
            }
        ],
        "charges[0].tiers[0].upto",
        "Unknown tier field.",
    ),
    (
        [{"meter": "storage_gb", "model": "package", "package_price": "5"}],
        "charges[0].package_size",
        "A package charge needs a package size: a whole number of units, at least 1.",
    ),
    (
        [{"meter": "storage_gb", "model": "package", "package_size": 0, "package_price": "5"}],
        "charges[0].package_size",
        "A package charge needs a package size: a whole number of units, at least 1.",
    ),
    (
        [{"meter": "storage_gb", "model": "package", "package_size": 10}],
        "charges[0].package_price",
        "A package charge needs the price of one package.",
    ),
    (
        [{"meter": "storage_gb", "model": "flat"}],
        "charges[0].flat_fee",
        "A flat charge needs its fee.",
    ),
    (
        [{"meter": "storage_gb", "model": "flat", "flat_fee": "10.005"}],
        "charges[0].flat_fee",
        "EUR amounts have at most 2 decimal places.",
    ),
    (
        [{"seats": True, "model": "per_unit", "unit_price": "1"}],
        "charges[0].counting_rule",
        "A seat charge needs a counting rule: average, peak or snapshot.",
    ),
    (
        [{"seats": True, "model": "per_unit", "unit_price": "1", "counting_rule": "max"}],
        "charges[0].counting_rule",
        "“max” is not a counting rule; use average, peak or snapshot.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "1", "counting_rule": "peak"}],
        "charges[0].counting_rule",
        "Only seat charges have a counting rule: a meter's aggregation counts its usage.",
    ),
    (
        [{"meter": "storage_gb", "model": "per_unit", "unit_price": "1", "pooled": True}],
        "charges[0].pooled",
        "Only tiered charges (graduated, volume) can count their tiers over all clients.",
    ),
    (
        [{"seats": "yes", "model": "per_unit", "unit_price": "1"}],
        "charges[0].seats",
        "seats is true or false.",
    ),
]


@pytest.mark.parametrize(("charges", "field", "message"), PLAN_RULES)
def test_price_plan_create_refuses_every_invalid_charge(vendor, charges, field, message):
    refused(lambda: plan(charges=charges), field=field, message=message)


def test_the_last_bad_charge_is_named_by_its_index(vendor):
    bad = {"meter": "storage_gb", "model": "graduated", "tiers": tiers(5, 3, None)}
    refused(
        lambda: plan(charges=[SEATS, GRADUATED, bad]),
        field="charges[2].tiers[1].up_to",
        message="Tiers go up: up_to must be above the previous tier's (5).",
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (
            {"code": "a b"},
            "code",
            "Codes are 1–64 letters, digits, “_”, “.” or “-”, starting with a letter or digit.",
        ),
        ({"currency": "EURO"}, "currency", "“EURO” is not an ISO 4217 currency code."),
        ({"currency": "ABC"}, "currency", "“ABC” is not an ISO 4217 currency code."),
        (
            {"effective_from": datetime.date(2026, 3, 2)},
            "effective_from",
            "Prices change on the first day of a month: give the month.",
        ),
    ],
)
def test_price_plan_create_refuses_bad_plan_fields(vendor, kwargs, field, message):
    refused(lambda: plan(**kwargs), field=field, message=message)


def test_price_plan_codes_are_unique(vendor):
    plan()
    refused(lambda: plan(), field="code", message="There is already a price plan “standard”.")


def test_currency_minor_units_decide_the_decimals_of_amounts(vendor):
    flat = {"seats": True, "model": "flat", "counting_rule": "peak"}
    refused(
        lambda: plan(code="yen", currency="jpy", charges=[{**flat, "flat_fee": "100.5"}]),
        field="charges[0].flat_fee",
        message="JPY amounts are whole numbers.",
    )
    refused(
        lambda: plan(code="bhd", currency="BHD", charges=[{**flat, "flat_fee": "1.0005"}]),
        field="charges[0].flat_fee",
        message="BHD amounts have at most 3 decimal places.",
    )
    yen = plan(code="yen", currency="jpy", charges=[{**flat, "flat_fee": "1000"}])
    bhd = plan(code="bhd", currency="BHD", charges=[{**flat, "flat_fee": "1.125"}])
    assert yen.currency == "JPY"
    assert Charge.objects.get(version__plan=bhd).flat_fee == Decimal("1.125")


# --- versions --------------------------------------------------------------------------------


def test_revise_adds_version_2_from_a_future_month_and_leaves_version_1(vendor):
    created = plan(effective_from=datetime.date(2026, 1, 1))
    v1_charges = list(Charge.objects.filter(version__plan=created).values())
    new = [{"seats": True, "model": "per_unit", "unit_price": "4.00", "counting_rule": "peak"}]
    version = price_plan_revise(
        plan=created, charges=new, effective_from=datetime.date(2026, 4, 1), actor=ACTOR
    )
    assert (version.version, version.effective_from) == (2, datetime.date(2026, 4, 1))
    assert list(version.charges.values_list("model", "unit_price", "counting_rule")) == [
        ("per_unit", Decimal("4"), "peak")
    ]
    # Version 1 is untouched.
    v1 = created.versions.get(version=1)
    assert list(Charge.objects.filter(version=v1).values()) == v1_charges
    entry = AuditEntry.objects.get(action="price_plan.revised")
    assert (entry.object_id, entry.after["version"], entry.after["effective_from"]) == (
        str(created.pk),
        2,
        "2026-04-01",
    )


def test_revise_refuses_months_that_have_begun_or_are_not_after_the_latest(vendor):
    created = plan(effective_from=datetime.date(2026, 1, 1))
    new = [SEATS]

    def revise(month):
        return lambda: price_plan_revise(
            plan=created, charges=new, effective_from=month, actor=ACTOR
        )

    refused(
        revise(datetime.date(2026, 3, 1)),
        field="effective_from",
        message="New prices start in a month that has not begun: 2026-04 at the earliest.",
    )
    refused(
        revise(datetime.date(2026, 5, 15)),
        field="effective_from",
        message="Prices change on the first day of a month: give the month.",
    )
    price_plan_revise(
        plan=created, charges=new, effective_from=datetime.date(2026, 6, 1), actor=ACTOR
    )
    for month in (datetime.date(2026, 5, 1), datetime.date(2026, 6, 1)):
        refused(
            revise(month),
            field="effective_from",
            message="Version 2 starts in 2026-06: new prices start in a later month.",
        )
    refused(
        lambda: price_plan_revise(
            plan=created, charges=[], effective_from=datetime.date(2026, 7, 1), actor=ACTOR
        ),
        field="charges",
        message="A price plan needs at least one charge.",
    )
    third = price_plan_revise(
        plan=created, charges=new, effective_from=datetime.date(2026, 7, 1), actor=ACTOR
    )
    assert third.version == 3


def test_revise_counts_months_in_the_vendors_time_zone(vendor, monkeypatch):
    created = plan(effective_from=datetime.date(2026, 1, 1))
    # 22:30 UTC on 30 April is 00:30 on 1 May in Berlin: May has begun there.
    freeze(monkeypatch, datetime.datetime(2026, 4, 30, 22, 30, tzinfo=datetime.UTC))
    refused(
        lambda: price_plan_revise(
            plan=created, charges=[SEATS], effective_from=datetime.date(2026, 5, 1), actor=ACTOR
        ),
        field="effective_from",
        message="New prices start in a month that has not begun: 2026-06 at the earliest.",
    )
    # An hour earlier it is still April in Berlin.
    freeze(monkeypatch, datetime.datetime(2026, 4, 30, 21, 30, tzinfo=datetime.UTC))
    version = price_plan_revise(
        plan=created, charges=[SEATS], effective_from=datetime.date(2026, 5, 1), actor=ACTOR
    )
    assert version.version == 2


def test_version_for_picks_the_version_in_effect_each_month(vendor):
    created = plan(effective_from=datetime.date(2026, 2, 1))
    v2 = price_plan_revise(
        plan=created, charges=[SEATS], effective_from=datetime.date(2026, 5, 1), actor=ACTOR
    )
    v3 = price_plan_revise(
        plan=created, charges=[SEATS], effective_from=datetime.date(2026, 9, 1), actor=ACTOR
    )
    expected = {
        datetime.date(2026, 1, 31): None,
        datetime.date(2026, 2, 1): 1,
        datetime.date(2026, 4, 30): 1,
        datetime.date(2026, 5, 1): 2,
        datetime.date(2026, 5, 20): 2,
        datetime.date(2026, 8, 31): 2,
        datetime.date(2026, 9, 1): 3,
        datetime.date(2027, 12, 1): 3,
    }
    got = {}
    prefetched = price_plans_with_versions().get(pk=created.pk)
    for day in expected:
        found = price_plan_version_for(created, day)
        got[day] = found.version if found else None
        in_memory = version_in_effect(prefetched, day)
        assert (in_memory.version if in_memory else None) == got[day]
    assert got == expected
    assert price_plan_version_for(created, datetime.date(2026, 6, 10)).pk == v2.pk
    assert price_plan_version_for(created, datetime.date(2026, 10, 1)).pk == v3.pk
    # The charges come prefetched with the version.
    found = price_plan_version_for(created, datetime.date(2026, 3, 1))
    assert [c.model for c in found.charges.all()] == ["per_unit", "graduated"]
