"""Console catalog pages: the landing page, products, meters and price plans (list, every version
with its charges and tiers, create and revise through the charge editor), readable errors with
nothing saved and nothing typed lost, who may change the catalog (admin and finance; other roles
get 403 and nothing changes), and query counts that do not grow with the catalog."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.models import Charge, ChargeTier, Meter, PricePlan, PricePlanVersion, Product
from billing.services.catalog import meter_create, price_plan_create, price_plan_revise
from billing.services.subscriptions import subscription_create
from core.actors import Actor
from core.models import AuditEntry
from tests.factories import ClientFactory, PartnerFactory
from tests.partners.program_fixtures import console_client, portal_client

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("catalog page tests")
D = datetime.date
# 15 March 2026 in Berlin (vendor A's time zone): March is the current month.
NOW = datetime.datetime(2026, 3, 15, 11, 0, tzinfo=datetime.UTC)
TENANT_URLCONF = "msp_program.urls_tenants"

GRADUATED_SEATS = {
    "seats": True,
    "model": "graduated",
    "counting_rule": "average",
    "tiers": [
        {"up_to": 10, "unit_price": "5", "flat_fee": "0"},
        {"up_to": None, "unit_price": "4.5", "flat_fee": "20"},
    ],
}


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        product = Product.objects.create(code="backup", name="Cloud Backup", description="Off-site")
        storage = meter_create(
            code="storage_gb", name="Storage", unit="GB", aggregation="sum", actor=ACTOR
        )
        devices = meter_create(
            code="devices",
            name="Managed devices",
            unit="device",
            aggregation="unique_count",
            unique_property="device_id",
            actor=ACTOR,
        )
        plan = price_plan_create(
            code="backup-eur",
            name="Backup EUR",
            currency="EUR",
            product=product,
            effective_from=D(2026, 1, 1),
            charges=[
                {"meter": "storage_gb", "model": "per_unit", "unit_price": "0.05"},
                GRADUATED_SEATS,
            ],
            actor=ACTOR,
        )
        price_plan_revise(
            plan=plan,
            effective_from=D(2026, 5, 1),
            charges=[
                {"meter": "storage_gb", "model": "per_unit", "unit_price": "0.045"},
                {"meter": "devices", "model": "package", "package_size": 10, "package_price": "25"},
                {"seats": True, "model": "flat", "flat_fee": "49", "counting_rule": "peak"},
            ],
            actor=ACTOR,
        )
        partner = PartnerFactory(name="Acme IT", currency="EUR")
        client = ClientFactory(partner=partner, name="Kiwi GmbH", started_on=D(2026, 1, 1))
        subscription_create(
            client=client, price_plan=plan, quantity=12, started_on=D(2026, 2, 1), actor=ACTOR
        )
    return {"plan": plan, "product": product, "storage": storage, "devices": devices}


def catalog_state(tv) -> dict:
    """Everything the catalog pages can change: a refused request leaves all of it."""
    with schema_context(tv.schema):
        return {
            "products": list(Product.objects.order_by("pk").values()),
            "meters": list(Meter.objects.order_by("pk").values()),
            "plans": list(PricePlan.objects.order_by("pk").values()),
            "versions": list(PricePlanVersion.objects.order_by("pk").values()),
            "charges": list(Charge.objects.order_by("pk").values()),
            "tiers": list(ChargeTier.objects.order_by("pk").values()),
            "audit": AuditEntry.objects.count(),
        }


def text(response) -> str:
    return response.content.decode()


def squash(html: str) -> str:
    """The page's text: tags dropped, whitespace collapsed (to compare what a reader sees)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def plan_post(**overrides) -> dict:
    """A valid new plan: per-unit storage, graduated seats with two tiers."""
    data = {
        "action": "save",
        "code": "security-eur",
        "name": "Security EUR",
        "currency": "EUR",
        "product": "",
        "effective_from": "2026-03",
        "charges-count": "2",
        "charges-0-on": "",  # set by the caller (needs the meter's pk)
        "charges-0-model": "per_unit",
        "charges-0-unit_price": "0.000125",
        "charges-0-tiers-count": "0",
        "charges-1-on": "seats",
        "charges-1-model": "graduated",
        "charges-1-counting_rule": "snapshot",
        "charges-1-pooled": "on",
        "charges-1-tiers-count": "3",
        "charges-1-tiers-0-up_to": "100",
        "charges-1-tiers-0-unit_price": "2",
        "charges-1-tiers-0-flat_fee": "",
        "charges-1-tiers-1-up_to": "",
        "charges-1-tiers-1-unit_price": "1.5",
        "charges-1-tiers-1-flat_fee": "10",
        "charges-1-tiers-2-up_to": "",
        "charges-1-tiers-2-unit_price": "",
        "charges-1-tiers-2-flat_fee": "",
    }
    data.update(overrides)
    return data


# ---- landing, products, meters ---------------------------------------------------------------


def test_the_landing_page_links_the_catalog_and_the_billing_pages_that_exist(vendor_a, world):
    html = text(console_client(vendor_a, "analyst").get("/console/catalog/"))
    page = squash(html)
    assert "1 price plan: versioned charges on meters or seats" in page
    assert "2 meters: the billable metrics usage events report" in page
    assert "1 product: what meters and price plans are for." in page
    assert 'href="/console/catalog/plans/"' in html
    assert 'href="/console/catalog/meters/"' in html
    assert 'href="/console/catalog/products/"' in html
    # The sidebar's entry is current on the catalog's pages.
    assert 'href="/console/catalog/" aria-current="page"' in html
    # Readers get no "New price plan" button.
    assert "/console/catalog/plans/new/" not in html
    for name, title in [
        ("billing_periods", "Billing periods"),
        ("invoices", "Invoices"),
        ("usage", "Usage"),
    ]:
        try:
            url = reverse(f"console:{name}", urlconf=TENANT_URLCONF)
        except NoReverseMatch:
            assert f">{title}</a>" not in html
        else:
            assert f'<a href="{url}">{title}</a>' in html
    assert "/console/catalog/plans/new/" in text(
        console_client(vendor_a, "finance").get("/console/catalog/")
    )


def test_products_are_listed_created_and_edited(vendor_a, world):
    finance = console_client(vendor_a, "finance")
    page = squash(text(finance.get("/console/catalog/products/")))
    assert "Cloud Backup backup Off-site 0 1 Edit" in page
    response = finance.post(
        "/console/catalog/products/new/",
        {"code": "edr", "name": " Endpoint Detection ", "description": "EDR"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/catalog/products/"
    with schema_context(vendor_a.schema):
        edr = Product.objects.get(code="edr")
        assert (edr.name, edr.description) == ("Endpoint Detection", "EDR")
        assert AuditEntry.objects.filter(action="product.created", object_id=str(edr.pk)).exists()
    # The code is shown but never changes; name and description do.
    response = finance.post(
        f"/console/catalog/products/{edr.pk}/edit/",
        {"code": "other", "name": "EDR", "description": "Endpoint detection and response"},
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        edr.refresh_from_db()
        assert (edr.code, edr.name, edr.description) == (
            "edr",
            "EDR",
            "Endpoint detection and response",
        )
        entry = AuditEntry.objects.get(action="product.updated", object_id=str(edr.pk))
        assert entry.before == {"name": "Endpoint Detection", "description": "EDR"}
    # A duplicate code is refused next to the code field, and what was typed stays.
    before = catalog_state(vendor_a)
    html = text(finance.post("/console/catalog/products/new/", {"code": "backup", "name": "Again"}))
    assert (
        '<ul class="errorlist" id="id_code_error"><li>There is already a product “backup”.' in html
    )
    assert 'value="Again"' in html
    assert catalog_state(vendor_a) == before


def test_meters_show_whether_they_are_billed_and_fix_their_aggregation_once_in_use(vendor_a, world):
    finance = console_client(vendor_a, "finance")
    html = text(finance.get("/console/catalog/meters/"))
    page = squash(html)
    assert "Managed devices devices device Count of distinct property values of device_id" in page
    assert "Storage storage_gb GB Sum of quantities — Billed" in page
    # devices is only billed by version 2 (from May): not in use yet.
    assert "Cloud Backup" not in page
    assert page.count("Not yet") == 1

    storage, devices = world["storage"], world["devices"]
    html = text(finance.get(f"/console/catalog/meters/{storage.pk}/edit/"))
    assert re.search(r'<select name="aggregation"[^>]*disabled', html)
    assert "Price plans in effect bill this meter" in html
    response = finance.post(
        f"/console/catalog/meters/{storage.pk}/edit/",
        {
            "name": "Backup storage",
            "unit": "GiB",
            "aggregation": "max",  # ignored: the field is fixed
            "product": world["product"].pk,
        },
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        storage.refresh_from_db()
        assert (storage.code, storage.name, storage.unit, storage.aggregation) == (
            "storage_gb",
            "Backup storage",
            "GiB",
            "sum",
        )
        assert storage.product_id == world["product"].pk

    # A meter no started version bills may still change how it counts; the service's rules
    # come back next to their field.
    html = text(
        finance.post(
            f"/console/catalog/meters/{devices.pk}/edit/",
            {"name": "Devices", "unit": "device", "aggregation": "max", "unique_property": "x"},
        )
    )
    assert (
        '<ul class="errorlist" id="id_unique_property_error"><li>Only unique_count meters have '
        "a unique property." in html
    )
    response = finance.post(
        f"/console/catalog/meters/{devices.pk}/edit/",
        {"name": "Devices", "unit": "device", "aggregation": "max", "unique_property": ""},
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        devices.refresh_from_db()
        assert (devices.aggregation, devices.unique_property) == ("max", "")


def test_a_meter_is_created_with_its_rules_checked(vendor_a, world):
    finance = console_client(vendor_a, "finance")
    before = catalog_state(vendor_a)
    data = {"code": "api calls", "name": "API calls", "unit": "call", "aggregation": "count"}
    html = text(finance.post("/console/catalog/meters/new/", data))
    assert "Codes are 1–64 letters, digits" in html
    assert 'value="API calls"' in html
    assert catalog_state(vendor_a) == before
    response = finance.post("/console/catalog/meters/new/", {**data, "code": "api_calls"})
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        meter = Meter.objects.get(code="api_calls")
        assert (meter.name, meter.unit, meter.aggregation, meter.product_id) == (
            "API calls",
            "call",
            "count",
            None,
        )


# ---- price plans: list and detail ------------------------------------------------------------


def test_the_plan_list_shows_the_version_in_effect_and_the_next_one(vendor_a, world):
    html = text(console_client(vendor_a, "support").get("/console/catalog/plans/"))
    page = squash(html)
    assert (
        "Backup EUR backup-eur EUR Cloud Backup Version 1 since Jan 2026 Version 2 from May 2026 "
        "storage_gb · Per unit Seats · Graduated tiers 1"
    ) in page
    assert f'href="/console/catalog/plans/{world["plan"].pk}/"' in html


def test_the_plan_page_shows_every_version_with_its_charges_and_tiers(vendor_a, world):
    plan = world["plan"]
    html = text(console_client(vendor_a, "analyst").get(f"/console/catalog/plans/{plan.pk}/"))
    page = squash(html)
    # Newest first; version 1 prices March 2026, version 2 is scheduled.
    v2 = page.index("Version 2 from May 2026 Scheduled")
    v1 = page.index("Version 1 from January 2026 In effect in March 2026")
    assert v2 < v1
    assert (
        "1 Storage storage_gb · per GB Per unit €0.045 per GB — — — "
        "2 Managed devices devices · per device Package €25.00 per started package of 10 devices "
        "— — — "
        "3 Seats Flat fee €49.00 per month — — Peak"
    ) in page
    assert (
        "1 Storage storage_gb · per GB Per unit €0.05 per GB — — — "
        "2 Seats Graduated tiers Each unit at its tier's price, plus the flat fee of every tier "
        "reached Up to 10: €5.00 per seat Above 10: €4.50 per seat + €20.00 flat fee "
        "Per client Daily average"
    ) in page
    assert f'href="/console/catalog/plans/{plan.pk}/subscribers/">Subscribers (1)' in html
    # Only editors see "Revise prices".
    assert f"/console/catalog/plans/{plan.pk}/revise/" not in html
    html = text(console_client(vendor_a, "finance").get(f"/console/catalog/plans/{plan.pk}/"))
    assert f'href="/console/catalog/plans/{plan.pk}/revise/">Revise prices</a>' in html


# ---- price plans: create ---------------------------------------------------------------------


def test_a_plan_is_created_with_every_kind_of_charge(vendor_a, world):
    storage, devices = world["storage"], world["devices"]
    finance = console_client(vendor_a, "finance")
    assert finance.get("/console/catalog/plans/new/").status_code == 200
    data = plan_post(**{"charges-0-on": f"meter-{storage.pk}", "product": world["product"].pk})
    data.update(
        {
            "charges-count": "4",
            "charges-2-on": f"meter-{devices.pk}",
            "charges-2-model": "package",
            "charges-2-package_size": "5",
            "charges-2-package_price": "12.5",
            # Fields of other models are ignored, not refused.
            "charges-2-unit_price": "9",
            "charges-2-tiers-count": "0",
            "charges-3-on": "seats",
            "charges-3-model": "flat",
            "charges-3-flat_fee": "99",
            "charges-3-counting_rule": "peak",
            "charges-3-tiers-count": "0",
        }
    )
    response = finance.post("/console/catalog/plans/new/", data)
    with schema_context(vendor_a.schema):
        plan = PricePlan.objects.get(code="security-eur")
        assert response.status_code == 302
        assert response["Location"] == f"/console/catalog/plans/{plan.pk}/"
        assert (plan.name, plan.currency, plan.product_id) == (
            "Security EUR",
            "EUR",
            world["product"].pk,
        )
        version = plan.versions.get()
        assert (version.version, version.effective_from) == (1, D(2026, 3, 1))
        charges = list(
            version.charges.order_by("position").values(
                "meter__code",
                "seats",
                "model",
                "unit_price",
                "package_size",
                "package_price",
                "flat_fee",
                "pooled",
                "counting_rule",
            )
        )
        assert charges == [
            {
                "meter__code": "storage_gb",
                "seats": False,
                "model": "per_unit",
                "unit_price": Decimal("0.000125"),
                "package_size": None,
                "package_price": None,
                "flat_fee": None,
                "pooled": False,
                "counting_rule": "",
            },
            {
                "meter__code": None,
                "seats": True,
                "model": "graduated",
                "unit_price": None,
                "package_size": None,
                "package_price": None,
                "flat_fee": None,
                "pooled": True,
                "counting_rule": "snapshot",
            },
            {
                "meter__code": "devices",
                "seats": False,
                "model": "package",
                "unit_price": None,
                "package_size": 5,
                "package_price": Decimal("12.500000"),
                "flat_fee": None,
                "pooled": False,
                "counting_rule": "",
            },
            {
                "meter__code": None,
                "seats": True,
                "model": "flat",
                "unit_price": None,
                "package_size": None,
                "package_price": None,
                "flat_fee": Decimal("99.000000"),
                "pooled": False,
                "counting_rule": "peak",
            },
        ]
        tiers = list(
            ChargeTier.objects.filter(charge__version=version)
            .order_by("position")
            .values_list("up_to", "unit_price", "flat_fee")
        )
        assert tiers == [
            (100, Decimal("2.000000"), Decimal("0.000000")),
            (None, Decimal("1.500000"), Decimal("10.000000")),
        ]
        assert AuditEntry.objects.filter(
            action="price_plan.created", object_id=str(plan.pk)
        ).exists()


@pytest.mark.parametrize(
    "overrides, error_id, message",
    [
        (
            {"charges-0-unit_price": ""},
            "id_charges-0-unit_price_error",
            "A per-unit charge needs a unit price.",
        ),
        (
            {"charges-0-unit_price": "0.0000001"},
            "id_charges-0-unit_price_error",
            "Unit prices have at most 6 decimal places.",
        ),
        (
            {"charges-1-tiers-1-up_to": "500"},
            "id_charges-1-tiers-1-up_to_error",
            "The last tier has no upper bound: leave “Up to” empty.",
        ),
        (
            {"charges-1-tiers-0-up_to": ""},
            "id_charges-1-tiers-0-up_to_error",
            "Only the last tier is open-ended: give this tier its “Up to”.",
        ),
        (
            {"charges-1-tiers-1-flat_fee": "10.005"},
            "id_charges-1-tiers-1-flat_fee_error",
            "EUR amounts have at most 2 decimal places.",
        ),
        (
            {"charges-1-counting_rule": ""},
            "id_charges-1-counting_rule_error",
            "A seat charge needs a counting rule: average, peak or snapshot.",
        ),
        ({"charges-1-model": ""}, "id_charges-1-model_error", "Choose how this charge is priced."),
        ({"charges-0-on": ""}, "id_charges-0-on_error", "Choose a meter, or seats."),
        ({"code": "backup-eur"}, "id_code_error", "There is already a price plan “backup-eur”."),
        ({"currency": "EUX"}, "id_currency_error", "“EUX” is not an ISO 4217 currency code."),
        ({"effective_from": "March"}, "id_effective_from_error", "Give a month as YYYY-MM"),
    ],
)
def test_a_refused_plan_shows_the_error_at_its_field_and_keeps_what_was_typed(
    vendor_a, world, overrides, error_id, message
):
    finance = console_client(vendor_a, "finance")
    data = plan_post(**{"charges-0-on": f"meter-{world['storage'].pk}"})
    data.update(overrides)
    before = catalog_state(vendor_a)
    response = finance.post("/console/catalog/plans/new/", data)
    assert response.status_code == 200
    html = text(response)
    assert f'<ul class="errorlist" id="{error_id}"><li>{message}' in html
    assert "Nothing was saved: correct the fields marked below." in html
    assert catalog_state(vendor_a) == before
    # What was typed is all still there.
    if "charges-1-tiers-1-unit_price" not in overrides:
        assert 'name="charges-1-tiers-1-unit_price" value="1.5"' in html
    if "name" not in overrides:
        assert 'name="name" value="Security EUR"' in html
    if "charges-1-pooled" not in overrides:
        assert re.search(r'name="charges-1-pooled"[^>]*checked', html)


def test_every_charge_with_a_problem_is_marked_at_once(vendor_a, world):
    data = plan_post(
        **{
            "charges-0-on": f"meter-{world['storage'].pk}",
            "charges-0-unit_price": "-1",
            "charges-1-tiers-0-up_to": "abc",
        }
    )
    html = text(console_client(vendor_a, "finance").post("/console/catalog/plans/new/", data))
    assert (
        '<ul class="errorlist" id="id_charges-0-unit_price_error"><li>Prices cannot be negative.'
        in html
    )
    assert (
        '<ul class="errorlist" id="id_charges-1-tiers-0-up_to_error"><li>“Up to” is a whole '
        "number, at least 1." in html
    )
    assert html.count("Needs a correction") == 2


def test_rows_and_charges_are_added_and_removed_without_saving(vendor_a, world):
    finance = console_client(vendor_a, "finance")
    data = plan_post(**{"charges-0-on": f"meter-{world['storage'].pk}", "name": ""})
    before = catalog_state(vendor_a)

    html = text(finance.post("/console/catalog/plans/new/", {**data, "action": "add_tier-1"}))
    assert 'name="charges-1-tiers-count" value="4"' in html
    assert 'name="charges-1-tiers-3-up_to"' in html
    # Nothing is validated yet: no errors for the empty name, the values stay.
    assert "errorlist" not in html and "Nothing was saved" not in html
    assert 'name="charges-1-tiers-1-flat_fee" value="10"' in html

    html = text(finance.post("/console/catalog/plans/new/", {**data, "action": "remove_tier-1-0"}))
    assert 'name="charges-1-tiers-count" value="2"' in html
    assert 'name="charges-1-tiers-0-unit_price" value="1.5"' in html

    html = text(finance.post("/console/catalog/plans/new/", {**data, "action": "remove_charge-0"}))
    assert 'name="charges-count" value="1"' in html
    assert 'name="charges-0-model"' in html
    assert re.search(r'<option value="graduated" selected>', html)
    assert "charges-1-model" not in html

    html = text(finance.post("/console/catalog/plans/new/", {**data, "action": "add_charge"}))
    assert 'name="charges-count" value="3"' in html
    assert 'id="charge-3"' in html
    assert catalog_state(vendor_a) == before


def test_a_plan_needs_a_charge(vendor_a, world):
    data = plan_post(**{"charges-0-on": f"meter-{world['storage'].pk}", "charges-count": "0"})
    before = catalog_state(vendor_a)
    html = text(console_client(vendor_a, "finance").post("/console/catalog/plans/new/", data))
    assert "A price plan needs at least one charge: add one." in html
    assert catalog_state(vendor_a) == before


# ---- price plans: revise ---------------------------------------------------------------------


def test_revising_starts_from_the_latest_version_and_adds_the_next(vendor_a, world):
    plan, storage = world["plan"], world["storage"]
    finance = console_client(vendor_a, "finance")
    url = f"/console/catalog/plans/{plan.pk}/revise/"
    html = text(finance.get(url))
    # Version 2 (from May) is the latest: the next version starts in June at the earliest.
    assert 'name="effective_from" value="2026-06"' in html
    assert 'name="charges-count" value="3"' in html
    assert 'name="charges-0-unit_price" value="0.045"' in html
    assert 'name="charges-1-package_size" value="10"' in html
    assert 'name="charges-2-flat_fee" value="49"' in html

    data = {
        "action": "save",
        "effective_from": "2026-05",
        "charges-count": "1",
        "charges-0-on": f"meter-{storage.pk}",
        "charges-0-model": "volume",
        "charges-0-tiers-count": "2",
        "charges-0-tiers-0-up_to": "1000",
        "charges-0-tiers-0-unit_price": "0.05",
        "charges-0-tiers-1-unit_price": "0.04",
        "charges-0-pooled": "on",
    }
    before = catalog_state(vendor_a)
    html = text(finance.post(url, data))
    assert (
        '<ul class="errorlist" id="id_effective_from_error"><li>Version 2 starts in 2026-05: new '
        "prices start in a later month." in html
    )
    assert 'name="charges-0-tiers-0-up_to" value="1000"' in html
    assert catalog_state(vendor_a) == before
    html = text(finance.post(url, {**data, "effective_from": "2026-02"}))
    assert "New prices start in a month that has not begun: 2026-04 at the earliest." in html
    assert catalog_state(vendor_a) == before

    response = finance.post(url, {**data, "effective_from": "2026-07"})
    assert response.status_code == 302
    assert response["Location"] == f"/console/catalog/plans/{plan.pk}/"
    with schema_context(vendor_a.schema):
        version = plan.versions.get(version=3)
        assert version.effective_from == D(2026, 7, 1)
        charge = version.charges.get()
        assert (charge.meter_id, charge.model, charge.pooled) == (storage.pk, "volume", True)
        assert list(charge.tiers.values_list("up_to", "unit_price")) == [
            (1000, Decimal("0.050000")),
            (None, Decimal("0.040000")),
        ]
        # The versions before it are untouched.
        assert plan.versions.get(version=1).charges.count() == 2
    html = text(finance.get(f"/console/catalog/plans/{plan.pk}/"))
    assert "Version 3 of backup-eur takes effect from July 2026." in html
    assert "Above 1,000: €0.04 per GB" in squash(html)
    assert "Pooled over the partner&#x27;s clients" in html


# ---- who may do what -------------------------------------------------------------------------


def _write_attempts(world) -> list[tuple[str, str, dict | None]]:
    plan, storage, product = world["plan"], world["storage"], world["product"]
    new_plan = plan_post(**{"charges-0-on": f"meter-{storage.pk}"})
    return [
        ("get", "/console/catalog/products/new/", None),
        ("post", "/console/catalog/products/new/", {"code": "x", "name": "X"}),
        ("get", f"/console/catalog/products/{product.pk}/edit/", None),
        ("post", f"/console/catalog/products/{product.pk}/edit/", {"name": "Renamed"}),
        ("get", "/console/catalog/meters/new/", None),
        (
            "post",
            "/console/catalog/meters/new/",
            {"code": "x", "name": "X", "unit": "x", "aggregation": "sum"},
        ),
        ("get", f"/console/catalog/meters/{storage.pk}/edit/", None),
        (
            "post",
            f"/console/catalog/meters/{storage.pk}/edit/",
            {"name": "Renamed", "unit": "GB", "aggregation": "sum"},
        ),
        ("get", "/console/catalog/plans/new/", None),
        ("post", "/console/catalog/plans/new/", new_plan),
        ("get", f"/console/catalog/plans/{plan.pk}/revise/", None),
        (
            "post",
            f"/console/catalog/plans/{plan.pk}/revise/",
            {**new_plan, "effective_from": "2026-09"},
        ),
    ]


@pytest.mark.parametrize("role", ["analyst", "support", "channel_manager", "enablement"])
def test_roles_other_than_admin_and_finance_read_but_get_403_on_changes(vendor_a, world, role):
    user = console_client(vendor_a, role)
    plan = world["plan"]
    for url in [
        "/console/catalog/",
        "/console/catalog/products/",
        "/console/catalog/meters/",
        "/console/catalog/plans/",
        f"/console/catalog/plans/{plan.pk}/",
        f"/console/catalog/plans/{plan.pk}/subscribers/",
    ]:
        assert user.get(url).status_code == 200, url
    before = catalog_state(vendor_a)
    for method, url, data in _write_attempts(world):
        response = getattr(user, method)(url, data)
        assert response.status_code == 403, (method, url)
    assert catalog_state(vendor_a) == before


def test_admins_may_change_the_catalog(vendor_a, world):
    admin = console_client(vendor_a, "admin")
    response = admin.post("/console/catalog/products/new/", {"code": "edr", "name": "EDR"})
    assert response.status_code == 302


def test_partner_users_get_403_on_every_catalog_page(vendor_a, world):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Portal Partner")
    user = portal_client(vendor_a, partner)
    before = catalog_state(vendor_a)
    reads = [
        "/console/catalog/",
        "/console/catalog/plans/",
        f"/console/catalog/plans/{world['plan'].pk}/",
    ]
    for url in reads:
        assert user.get(url).status_code == 403, url
    for method, url, data in _write_attempts(world):
        assert getattr(user, method)(url, data).status_code == 403, (method, url)
    assert catalog_state(vendor_a) == before


def test_unknown_objects_are_404(vendor_a, world):
    finance = console_client(vendor_a, "finance")
    for url in [
        "/console/catalog/plans/999999/",
        "/console/catalog/plans/999999/revise/",
        "/console/catalog/plans/999999/subscribers/",
        "/console/catalog/meters/999999/edit/",
        "/console/catalog/products/999999/edit/",
    ]:
        assert finance.get(url).status_code == 404, url


# ---- query counts ----------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    client.get(url)  # warm: the host's routing is cached for a few seconds
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200
    return len(captured)


def _more_catalog(tv, tag: str) -> None:
    """Another product, meter and plan with three versions, tiers and a subscriber."""
    with schema_context(tv.schema):
        product = Product.objects.create(code=f"p-{tag}", name=f"Product {tag}")
        meter_create(
            code=f"m-{tag}", name=f"Meter {tag}", unit="GB", aggregation="max", actor=ACTOR,
            product=product,
        )  # fmt: skip
        plan = price_plan_create(
            code=f"plan-{tag}",
            name=f"Plan {tag}",
            currency="EUR",
            product=product,
            effective_from=D(2026, 1, 1),
            charges=[
                {"meter": f"m-{tag}", "model": "per_unit", "unit_price": "1"},
                GRADUATED_SEATS,
            ],
            actor=ACTOR,
        )
        for month in (4, 6):
            price_plan_revise(
                plan=plan,
                effective_from=D(2026, month, 1),
                charges=[{**GRADUATED_SEATS, "pooled": True}],
                actor=ACTOR,
            )
        client = ClientFactory(partner=PartnerFactory(currency="EUR"), started_on=D(2026, 1, 1))
        subscription_create(
            client=client, price_plan=plan, quantity=3, started_on=D(2026, 1, 1), actor=ACTOR
        )


def test_catalog_pages_cost_the_same_queries_whatever_the_size_of_the_catalog(vendor_a, world):
    analyst = console_client(vendor_a, "analyst")
    plan = world["plan"]
    urls = [
        "/console/catalog/",
        "/console/catalog/products/",
        "/console/catalog/meters/",
        "/console/catalog/plans/",
        f"/console/catalog/plans/{plan.pk}/",
        f"/console/catalog/plans/{plan.pk}/revise/",
    ]
    finance = console_client(vendor_a, "finance")
    few = {url: _queries(finance, url) for url in urls}
    for n in range(4):
        _more_catalog(vendor_a, f"q{n}")
    with schema_context(vendor_a.schema):
        price_plan_revise(
            plan=plan,
            effective_from=D(2026, 8, 1),
            charges=[GRADUATED_SEATS, {**GRADUATED_SEATS, "counting_rule": "peak"}],
            actor=ACTOR,
        )
    many = {url: _queries(finance, url) for url in urls}
    assert many == few
    assert _queries(analyst, "/console/catalog/plans/") <= 12
