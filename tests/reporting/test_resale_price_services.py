"""Setting resale prices: validation with readable messages naming the field, one row per
(product, client, month) — the month's row replaced, history kept — and an audit row per write."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing.models import Product
from core.actors import Actor
from core.models import AuditEntry
from reporting.errors import ReportingError
from reporting.models import ResalePrice
from reporting.services.resale_prices import resale_price_set, resale_price_update
from tests.factories import ClientFactory, PartnerFactory

pytestmark = pytest.mark.django_db
D = datetime.date
ACTOR = Actor.system("price tests")


@pytest.fixture
def setup(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Alpha IT", currency="EUR")
        other = PartnerFactory(name="Bravo Systems", currency="JPY")
        client = ClientFactory(partner=partner, name="Kiwi GmbH")
        foreign = ClientFactory(partner=other, name="Mango SA")
        product = Product.objects.create(code="backup", name="Backup")
        yield {
            "partner": partner,
            "other": other,
            "client": client,
            "foreign": foreign,
            "product": product,
        }


def set_price(s, **kwargs):
    args = {
        "partner": s["partner"],
        "product": s["product"],
        "effective_from": D(2026, 10, 1),
        "kind": "fixed",
        "fixed_price": "49.00",
        "actor": ACTOR,
    }
    args.update(kwargs)
    return resale_price_set(**args)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"kind": "per_seat"},
            "kind",
            "Choose how the price is set: one of fixed, markup, inherit.",
        ),
        ({"kind": "inherit", "fixed_price": None}, "kind", "“Use the product's price” only ends"),
        ({"fixed_price": None}, "fixed_price", "Give the monthly price per client."),
        ({"fixed_price": "-1"}, "fixed_price", "A price cannot be negative."),
        ({"fixed_price": "12.345"}, "fixed_price", "EUR amounts have at most 2 decimal places."),
        ({"fixed_price": "abc"}, "fixed_price", '"abc" is not a number: give it like "49.00".'),
        ({"fixed_price": 1.5}, "fixed_price", 'Give a number as a decimal string, e.g. "49.00".'),
        ({"fixed_price": "2000000000"}, "fixed_price", "A monthly price above 1,000,000,000 EUR"),
        (
            {"fixed_price": "10", "markup_pct": "5"},
            "markup_pct",
            "Only a markup price has a markup %: leave it empty.",
        ),
        (
            {"kind": "markup", "fixed_price": "10", "markup_pct": "5"},
            "fixed_price",
            "Only a fixed price has a monthly amount: leave it empty.",
        ),
        ({"kind": "markup", "fixed_price": None}, "markup_pct", "Give the markup in percent"),
        (
            {"kind": "markup", "fixed_price": None, "markup_pct": "1000.01"},
            "markup_pct",
            "A markup must be between -100 % and 1000 %.",
        ),
        (
            {"kind": "markup", "fixed_price": None, "markup_pct": "10.125"},
            "markup_pct",
            "A markup has at most 2 decimal places.",
        ),
        ({"effective_from": D(2026, 10, 2)}, "effective_from", "A price starts on the first"),
        ({"effective_from": D(1999, 12, 1)}, "effective_from", "A price cannot start before"),
        ({"effective_from": None}, "effective_from", "Give the first month the price applies"),
    ],
)
def test_invalid_prices_are_refused_with_the_field_and_nothing_is_written(
    setup, changes, field, message
):
    with pytest.raises(ReportingError) as raised:
        set_price(setup, **changes)
    assert raised.value.field == field
    assert str(raised.value).startswith(message)
    assert ResalePrice.objects.count() == 0
    assert not AuditEntry.objects.filter(action__startswith="resale_price").exists()


def test_another_partners_client_is_refused(setup):
    with pytest.raises(ReportingError) as raised:
        set_price(setup, client=setup["foreign"])
    assert (raised.value.field, str(raised.value)) == ("client", "There is no such client.")
    assert ResalePrice.objects.count() == 0


def test_a_yen_price_has_no_decimals(setup):
    with pytest.raises(ReportingError, match=r"JPY amounts have at most 0 decimal places\."):
        set_price(setup, partner=setup["other"], fixed_price="100.5")
    price, created = set_price(setup, partner=setup["other"], fixed_price="100")
    assert created and price.currency == "JPY" and price.fixed_price == Decimal("100")


def test_the_same_month_replaces_its_row_and_other_months_are_history(setup):
    first, created = set_price(setup)
    assert created
    again, created_again = set_price(setup, kind="markup", fixed_price=None, markup_pct="25")
    assert (again.pk, created_again) == (first.pk, False)
    later, created_later = set_price(setup, effective_from=D(2026, 12, 1), fixed_price="59.00")
    assert created_later and later.pk != first.pk
    override, _ = set_price(setup, client=setup["client"], fixed_price="45.00")
    rows = list(
        ResalePrice.objects.order_by("pk").values_list(
            "client_id", "effective_from", "kind", "fixed_price", "markup_pct", "currency"
        )
    )
    assert rows == [
        (None, D(2026, 10, 1), "markup", None, Decimal("25.00"), "EUR"),
        (None, D(2026, 12, 1), "fixed", Decimal("59.0000"), None, "EUR"),
        (setup["client"].pk, D(2026, 10, 1), "fixed", Decimal("45.0000"), None, "EUR"),
    ]
    actions = list(
        AuditEntry.objects.filter(action__startswith="resale_price")
        .order_by("pk")
        .values_list("action", "object_id")
    )
    assert actions == [
        ("resale_price.created", str(first.pk)),
        ("resale_price.updated", str(first.pk)),
        ("resale_price.created", str(later.pk)),
        ("resale_price.created", str(override.pk)),
    ]
    replaced = AuditEntry.objects.get(action="resale_price.updated")
    assert replaced.before == {"kind": "fixed", "fixed_price": "49.0000", "markup_pct": None}
    assert replaced.after == {"kind": "markup", "fixed_price": None, "markup_pct": "25.00"}


def test_inherit_ends_a_client_override(setup):
    price, created = set_price(
        setup,
        client=setup["client"],
        kind="inherit",
        fixed_price=None,
        effective_from=D(2027, 1, 1),
    )
    assert created and price.kind == "inherit"
    assert (price.fixed_price, price.markup_pct) == (None, None)


def test_update_changes_one_rows_price(setup):
    price, _ = set_price(setup)
    resale_price_update(price=price, fixed_price="55.50", actor=ACTOR)
    price.refresh_from_db()
    assert (price.kind, price.fixed_price) == ("fixed", Decimal("55.5000"))
    resale_price_update(price=price, kind="markup", markup_pct="15", actor=ACTOR)
    price.refresh_from_db()
    assert (price.kind, price.fixed_price, price.markup_pct) == ("markup", None, Decimal("15.00"))
    with pytest.raises(ReportingError, match="Only a fixed price has a monthly amount"):
        resale_price_update(price=price, fixed_price="10", actor=ACTOR)
    price.refresh_from_db()
    assert price.markup_pct == Decimal("15.00")
