"""The portal's margin pages: the month's figures per client with the total and the trend (chart
and table), the CSV export, empty states, the resale price forms with row-level errors, who may
edit (owners and billing users) and who may only read, isolation from another partner, and a
constant number of queries whatever the number of clients."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from core.models import AuditEntry
from reporting.models import ResalePrice
from tests.billing.invoice_fixtures import make_invoice, run_deferred_checks
from tests.factories import ClientFactory, PartnerFactory
from tests.partners.clients_support import body, portal_as

from .margin_world import EXPECTED, MarginWorld, build_margin_world, line, resale_rows

pytestmark = pytest.mark.django_db

MARGIN = "/portal/margin/"
PRICES = "/portal/margin/prices/"
SET = "/portal/margin/prices/set/"
EXPORT = "/portal/margin/export.csv"


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def world(vendor_a) -> MarginWorld:
    return build_margin_world(vendor_a)


def table_rows(html: str, table_id: str = "margin-table") -> list[list[str]]:
    """Each row of the table as its cells' text (tags dropped, whitespace squeezed)."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        texts = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells]
        rows.append(texts)
    return rows


def expected_rows(month: str) -> list[list[str]]:
    def cells(values):
        cost, revenue, margin, pct = values
        money = [f"-€{v[1:]}" if v.startswith("-") else f"€{v}" for v in (cost, revenue, margin)]
        return [*money, f"{pct} %"]

    return [
        ["Kiwi GmbH KIWI-1", *cells(EXPECTED[month]["Kiwi GmbH"])],
        ["Lime AG LIME-1", *cells(EXPECTED[month]["Lime AG"])],
    ]


# --- the margin page ---------------------------------------------------------------------------


def test_the_default_month_is_the_latest_finalized_with_exact_figures(world):
    page = portal_as(world.tv, world.alpha, "viewer").get(MARGIN)
    assert page.status_code == 200
    html = body(page)
    assert '<option value="2026-10" selected>October 2026</option>' in html
    assert '<option value="2026-11">November 2026 (draft)</option>' in html
    rows = table_rows(html)
    assert rows[0] == ["Client", "Vendor cost", "Resale revenue", "Margin", "Margin %"]
    assert rows[1:3] == expected_rows("2026-10")
    assert rows[3] == ["Total", "€175.50", "€186.88", "€11.38", "6.09 %"]
    # The client links to its page; Bravo's figures are nowhere.
    assert f'href="/portal/clients/{world.kiwi.pk}/"' in html
    for foreign in ("Mango SA", "MANGO-1", "Bravo Systems", "1,110.00"):
        assert foreign not in html


def test_a_draft_month_is_marked_and_shows_its_credits(world):
    html = body(portal_as(world.tv, world.alpha, "viewer").get(MARGIN, {"month": "2026-11"}))
    assert "Draft — in review" in html
    assert "its figures may still change" in html
    rows = table_rows(html)
    assert rows[1][0] == "Kiwi GmbH KIWI-1 Credited this month: €15.00"
    assert rows[1][1:] == ["€30.00", "€30.00", "€0.00", "0.00 %"]
    assert rows[2] == ["Lime AG LIME-1", "€81.00", "€80.00", "-€1.00", "-1.25 %"]
    assert rows[3][0].startswith("Credits not tied to a client")
    assert rows[3][1:] == ["−€2.00", "—", "€2.00", "—"]
    assert rows[4] == ["Total", "€109.00", "€110.00", "€1.00", "0.91 %"]


def test_the_trend_has_twelve_months_in_the_chart_and_the_table(world):
    html = body(portal_as(world.tv, world.alpha, "viewer").get(MARGIN, {"month": "2026-11"}))
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg and "<desc" in svg
    titles = re.findall(r"<rect [^>]*><title>([^<]+)</title>", svg)
    assert titles == [
        "September 2026: vendor cost €183.01",
        "September 2026: resale revenue €202.51",
        "October 2026: vendor cost €175.50",
        "October 2026: resale revenue €186.88",
        "November 2026: vendor cost €109.00",
        "November 2026: resale revenue €110.00",
    ]
    assert len(re.findall(r"<text [^>]*text-anchor=\"middle\"", svg)) == 12
    rows = table_rows(html, "trend-table")[1:]
    assert len(rows) == 12
    assert rows[0] == ["November 2026 draft", "€109.00", "€110.00", "€1.00", "0.91 %"]
    assert rows[1] == ["October 2026", "€175.50", "€186.88", "€11.38", "6.09 %"]
    assert rows[2] == ["September 2026", "€183.01", "€202.51", "€19.50", "9.63 %"]
    assert rows[3] == ["August 2026", "Not billed"]
    assert rows[11] == ["December 2025", "Not billed"]


def test_an_unknown_month_falls_back_to_the_default_and_says_why(world):
    html = body(portal_as(world.tv, world.alpha, "viewer").get(MARGIN, {"month": "2020-01"}))
    assert "Nothing was billed for that month: choose one from the list." in html
    assert table_rows(html)[1:3] == expected_rows("2026-10")


def test_empty_states_point_to_the_prices(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Fresh MSP", currency="EUR")
    owner = body(portal_as(vendor_a, partner, "owner").get(MARGIN))
    assert "Nothing billed yet" in owner
    assert f'href="{PRICES}">Set resale prices</a>' in owner
    viewer = body(portal_as(vendor_a, partner, "viewer").get(MARGIN))
    assert "An owner or billing user of Fresh MSP sets the resale prices." in viewer
    assert "Set resale prices</a>" not in viewer


def test_billed_without_prices_explains_what_to_do(vendor_a):
    w = build_margin_world(vendor_a, prices=False, credits=False)
    html = body(portal_as(vendor_a, w.alpha, "billing").get(MARGIN))
    assert "No resale prices yet." in html
    assert "Set your resale prices</a>" in html
    rows = table_rows(html)
    assert rows[1][0] == "Kiwi GmbH KIWI-1 No resale price: Backup"
    assert rows[1][1:] == ["€85.50", "€0.00", "-€85.50", "—"]


# --- CSV export -------------------------------------------------------------------------------


def test_the_csv_export_of_a_month(world):
    response = portal_as(world.tv, world.alpha, "viewer").get(EXPORT, {"month": "2026-11"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="margin-alpha-it-2026-11.csv"'
    text = body(response)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    kiwi, lime = str(world.kiwi.pk), str(world.lime.pk)
    lead = ["2026-11", "draft"]
    assert rows == [
        [
            "month",
            "status",
            "client_id",
            "client_external_id",
            "client_name",
            "currency",
            "vendor_cost",
            "credited",
            "resale_revenue",
            "margin",
            "margin_pct",
            "unpriced_products",
        ],
        [*lead, kiwi, "KIWI-1", "Kiwi GmbH", "EUR", "30.00", "15.00", "30.00", "0.00", "0.00", ""],
        [*lead, lime, "LIME-1", "Lime AG", "EUR", "81.00", "0.00", "80.00", "-1.00", "-1.25", ""],
        [*lead, "", "", "Credits not tied to a client", "EUR", "-2.00", "2.00", "", "", "", ""],
        [*lead, "", "", "Total", "EUR", "109.00", "17.00", "110.00", "1.00", "0.91", ""],
    ]


def test_the_export_defaults_to_the_latest_finalized_month_and_refuses_unknown_ones(world):
    viewer = portal_as(world.tv, world.alpha, "viewer")
    rows = list(csv.DictReader(io.StringIO(body(viewer.get(EXPORT)).removeprefix("\ufeff"))))
    assert [(r["month"], r["client_name"], r["margin"]) for r in rows] == [
        ("2026-10", "Kiwi GmbH", "21.38"),
        ("2026-10", "Lime AG", "-10.00"),
        ("2026-10", "Total", "11.38"),
    ]
    assert viewer.get(EXPORT, {"month": "2026-01"}).status_code == 404


def test_export_cells_cannot_run_as_formulas(world):
    with world.schema():
        world.kiwi.name = "=HYPERLINK(1)"
        world.kiwi.save(update_fields=["name"])
    text = body(portal_as(world.tv, world.alpha, "viewer").get(EXPORT))
    assert "'=HYPERLINK(1)" in text


# --- prices: reading and setting ---------------------------------------------------------------


def test_the_prices_page_shows_the_current_prices_overrides_and_history(world):
    html = body(portal_as(world.tv, world.alpha, "viewer").get(PRICES))
    rows = table_rows(html, "product-prices")
    assert rows[1][:2] == ["Backup backup", "Vendor cost + 25.00 % since September 2026"]
    assert rows[2][:2] == ["Mail Security mail", "€30.00 a month per client since September 2026"]
    assert table_rows(html, "client-overrides")[1] == [
        "Lime AG",
        "Backup",
        "€80.00 a month",
        "October 2026",
    ]
    assert len(table_rows(html, "price-history")) == 4  # header + Alpha's three rows
    assert "99" not in html.split('id="price-history"')[1]  # Bravo's markup is not listed
    # A viewer reads, and gets no forms.
    assert SET not in html


@pytest.mark.parametrize("role", ["owner", "billing"])
def test_owners_and_billing_users_set_a_price(world, role):
    client = portal_as(world.tv, world.alpha, role)
    assert SET in body(client.get(PRICES))
    response = client.post(
        SET,
        {
            "scope": "product",
            "product": world.mail.pk,
            "kind": "markup",
            "markup_pct": "40",
            "effective_from": "2026-11",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PRICES}#product-{world.mail.pk}"
    with world.schema():
        price = ResalePrice.objects.get(
            partner=world.alpha, product=world.mail, effective_from="2026-11-01"
        )
        assert (price.kind, price.markup_pct, price.client_id) == ("markup", Decimal("40.00"), None)
    followed = body(client.get(PRICES))
    assert (
        "Price of Mail Security for all clients set from November 2026: cost + 40.00 %." in followed
    )
    # November now uses the new Mail price: Kiwi's 30.00 fixed becomes 45.00 + 40 % = 63.00.
    nov = table_rows(body(client.get(MARGIN, {"month": "2026-11"})))
    assert nov[1][1:3] == ["€30.00", "€63.00"]


def test_a_client_override_through_the_form(world):
    client = portal_as(world.tv, world.alpha, "owner")
    response = client.post(
        SET,
        {
            "scope": "client",
            "client": world.kiwi.pk,
            "product": world.backup.pk,
            "kind": "fixed",
            "fixed_price": "99.90",
            "effective_from": "2026-10",
        },
    )
    assert response.status_code == 302
    october = table_rows(body(client.get(MARGIN, {"month": "2026-10"})))
    assert october[1] == ["Kiwi GmbH KIWI-1", "€85.50", "€99.90", "€14.40", "14.41 %"]
    # September keeps the prices of September.
    september = table_rows(body(client.get(MARGIN, {"month": "2026-09"})))
    assert september[1][1:] == ["€153.00", "€165.00", "€12.00", "7.27 %"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"fixed_price": "1.234"},
            "Monthly price (EUR): EUR amounts have at most 2 decimal places.",
        ),
        ({"fixed_price": ""}, "Monthly price (EUR): Give the monthly price per client."),
        ({"effective_from": "2026-13"}, "From month: Give the month as YYYY-MM, e.g. &quot;2026"),
        (
            {"kind": "inherit"},
            "Pricing: “Use the product&#x27;s price” only ends a client override",
        ),
    ],
)
def test_row_level_errors_show_on_the_failing_product_row(world, data, message):
    before = resale_rows(world.tv)
    form = {
        "scope": "product",
        "product": world.mail.pk,
        "kind": "fixed",
        "fixed_price": "12",
        "effective_from": "2026-11",
        **data,
    }
    response = portal_as(world.tv, world.alpha, "owner").post(SET, form)
    assert response.status_code == 400
    html = body(response)
    errors = html.split(f'id="product-{world.mail.pk}-errors">', 1)[1].split("</div>", 1)[0]
    assert message in errors
    assert f'id="product-{world.backup.pk}-errors"' not in html  # only the failing row
    # Its four inputs point at the errors; no other input is marked invalid.
    described = f'aria-invalid="true" aria-describedby="product-{world.mail.pk}-errors"'
    assert html.count(described) == 4
    assert html.count('aria-invalid="true"') == 4
    assert resale_rows(world.tv) == before


def test_an_override_without_a_client_is_refused(world):
    before = resale_rows(world.tv)
    response = portal_as(world.tv, world.alpha, "owner").post(
        SET,
        {
            "scope": "client",
            "product": world.mail.pk,
            "kind": "fixed",
            "fixed_price": "5",
            "effective_from": "2026-11",
        },
    )
    assert response.status_code == 400
    assert "Choose the client this price is for." in body(response)
    assert resale_rows(world.tv) == before


@pytest.mark.parametrize("role", ["technician", "viewer"])
def test_technicians_and_viewers_read_but_cannot_set_prices(world, role):
    client = portal_as(world.tv, world.alpha, role)
    assert client.get(MARGIN).status_code == 200
    assert client.get(PRICES).status_code == 200
    with world.schema():
        audits = AuditEntry.objects.count()
    before = resale_rows(world.tv)
    response = client.post(
        SET,
        {
            "scope": "product",
            "product": world.mail.pk,
            "kind": "fixed",
            "fixed_price": "1.00",
            "effective_from": "2026-11",
        },
    )
    assert response.status_code == 403
    assert resale_rows(world.tv) == before
    with world.schema():
        assert AuditEntry.objects.count() == audits


def test_another_partners_client_is_not_found_and_nothing_changes(world):
    before = resale_rows(world.tv)
    response = portal_as(world.tv, world.alpha, "owner").post(
        SET,
        {
            "scope": "client",
            "client": world.mango.pk,
            "product": world.backup.pk,
            "kind": "fixed",
            "fixed_price": "1.00",
            "effective_from": "2026-11",
        },
    )
    assert response.status_code == 400
    html = body(response)
    assert "Select a valid choice. That choice is not one of the available choices." in html
    assert "Mango" not in html
    assert resale_rows(world.tv) == before
    # The client link of another partner's client is a 404.
    owner = portal_as(world.tv, world.alpha, "owner")
    assert owner.get(f"/portal/clients/{world.mango.pk}/").status_code == 404


def test_bravo_sees_only_its_own_margin(world):
    html = body(portal_as(world.tv, world.bravo, "owner").get(MARGIN))
    rows = table_rows(html)
    # Bravo: 777 + 333 = 1110.00 at cost, no tier discount; its Backup markup 99 %.
    assert rows[1] == [
        "Mango SA MANGO-1 No resale price: Mail Security",
        "€1,110.00",
        "€1,546.23",
        "€436.23",
        "28.21 %",
    ]
    for foreign in ("Kiwi", "Lime", "KIWI-1"):
        assert foreign not in html
    prices = body(portal_as(world.tv, world.bravo, "owner").get(PRICES))
    assert "Lime AG" not in prices and "80.00" not in prices


# --- query counts -------------------------------------------------------------------------------


def queries(client, url, data=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, data or {})
        assert response.status_code == 200
        body(response)
    return len(captured)


def test_the_pages_cost_the_same_queries_whatever_the_number_of_clients(world):
    client = portal_as(world.tv, world.alpha, "viewer")
    client.get(MARGIN)  # the session's first request also loads what later ones reuse
    few = {url: queries(client, url) for url in (MARGIN, EXPORT, PRICES)}
    with world.schema():
        more = [ClientFactory(partner=world.alpha, name=f"Extra {n}") for n in range(6)]
        make_invoice(
            partner=world.alpha,
            month="2026-10",
            currency="USD",  # a second invoice of October (another currency) with more lines
            finalized=True,
            lines=[{"client": c, "amount": Decimal("10.00")} for c in more],
        )
        make_invoice(
            partner=world.alpha,
            month="2026-08",
            finalized=True,
            lines=[line(c, world.backup_seats, "10.00") for c in more]
            + [line(c, world.mail_seats, "10.00") for c in more],
        )
    many = {url: queries(client, url) for url in (MARGIN, EXPORT, PRICES)}
    assert many == few
    # search_path, session, user, OTP device, membership; then the margin's four: billed
    # months, lines (aggregated), credits (aggregated), prices. The prices page: products, the
    # price rows with product and client, the price book.
    assert few == {MARGIN: 9, EXPORT: 9, PRICES: 8}


def test_a_form_of_no_row_shows_its_errors_on_top(world):
    before = resale_rows(world.tv)
    response = portal_as(world.tv, world.alpha, "owner").post(SET, {"kind": "fixed"})
    assert response.status_code == 400
    html = body(response)
    top = html.split('<div class="form-errors" role="alert">', 1)[1].split("</div>", 1)[0]
    assert "The price was not saved:" in top
    assert "Product: This field is required." in top
    assert resale_rows(world.tv) == before
