"""/api/v1/invoices/, invoices/{id}/pdf/ and credit-notes/: exact JSON, filters, vendor vs
partner keys (others' invoices and drafts of a period being rated answer 404 and never appear in
lists; partner keys cannot issue credit notes and nothing changes), Idempotency-Key on credit
notes, constant query counts and the OpenAPI description."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from core.api.problems import PROBLEM_CONTENT_TYPE
from core.models import AuditEntry
from tests.conftest import host_client, make_api_key
from tests.factories import ClientFactory

from .invoice_fixtures import (
    POOLED_TIERS,
    InvoiceWorld,
    build_invoice_world,
    make_invoice,
    run_deferred_checks,
)

pytestmark = pytest.mark.django_db

INVOICES = "/api/v1/invoices/"
CREDIT_NOTES = "/api/v1/credit-notes/"


class Keys:
    def __init__(self, w: InvoiceWorld) -> None:
        tv = w.tv
        self.vendor = host_client(tv.host, HTTP_AUTHORIZATION=f"Bearer {make_api_key(tv)}")
        self.alpha = host_client(
            tv.host,
            HTTP_AUTHORIZATION=f"Bearer {make_api_key(tv, 'alpha', partner_id=w.alpha.pk)}",
        )
        self.bravo = host_client(
            tv.host,
            HTTP_AUTHORIZATION=f"Bearer {make_api_key(tv, 'bravo', partner_id=w.bravo.pk)}",
        )


@pytest.fixture(autouse=True)
def _deferred_checks(vendor_a):
    yield
    run_deferred_checks(vendor_a)


@pytest.fixture
def world(vendor_a) -> InvoiceWorld:
    return build_invoice_world(vendor_a)


@pytest.fixture
def keys(world) -> Keys:
    return Keys(world)


def post(client, url, data, **extra):
    return client.post(url, data, content_type="application/json", **extra)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    return response.json()


def state(w: InvoiceWorld) -> dict:
    with w.schema():
        return {
            "invoices": list(Invoice.objects.order_by("pk").values()),
            "lines": list(InvoiceLine.objects.order_by("pk").values()),
            "credit_notes": list(CreditNote.objects.order_by("pk").values()),
            "credit_lines": list(CreditNoteLine.objects.order_by("pk").values()),
            "audit": AuditEntry.objects.count(),
        }


def line_ids(invoice: Invoice) -> list[int]:
    return list(invoice.lines.order_by("position").values_list("pk", flat=True))


def september_json(w: InvoiceWorld, credited: str = "0.00") -> dict:
    with w.schema():
        kiwi_line, lime_line = line_ids(w.september)
        return {
            "id": w.september.pk,
            "number": "INV-000901",
            "partner": w.alpha.pk,
            "month": "2026-09",
            "status": "open",
            "currency": "EUR",
            "subtotal": "153.35",
            "discount": "15.34",
            "tax": "26.22",
            "credits": "0.00",
            "total": "164.23",
            "credited": credited,
            "discount_pct": "10.00",
            "tax_rate": "19.00",
            "tier": "Gold",
            "bill_to": {
                "name": "Alpha IT",
                "email": "billing@alpha.example",
                "address": "Hauptstraße 1\n10115 Berlin",
                "country": "DE",
            },
            "issued_on": "2026-10-01",
            "finalized_at": "2026-10-01T09:00:00Z",
            "lines": [
                {
                    "id": kiwi_line,
                    "position": 1,
                    "client": w.kiwi.pk,
                    "client_external_id": "KIWI-1",
                    "description": "Backup Pro: seats (average)",
                    "price_plan": "fixture-seats-eur",
                    "meter": None,
                    "seats": True,
                    "quantity": "40",
                    "unit_price": "3.00",
                    "amount": "120.00",
                    "discount": "12.00",
                    "net_amount": "108.00",
                    "pooled": False,
                    "tiers": [],
                    "adjustment_of": None,
                },
                {
                    "id": lime_line,
                    "position": 2,
                    "client": w.lime.pk,
                    "client_external_id": "LIME-1",
                    "description": "Backup Pro: Backup Gb (GB)",
                    "price_plan": "fixture-backup-gb-eur",
                    "meter": "backup-gb",
                    "seats": False,
                    "quantity": "667",
                    "unit_price": "0.05",
                    "amount": "33.35",
                    "discount": "3.34",
                    "net_amount": "30.01",
                    "pooled": True,
                    "tiers": POOLED_TIERS,
                    "adjustment_of": None,
                },
            ],
        }


# --- reads -------------------------------------------------------------------------------------


def test_vendor_reads_an_invoice_exactly(world, keys):
    response = keys.vendor.get(f"{INVOICES}{world.september.pk}/")
    assert response.status_code == 200
    assert response.json() == september_json(world)


def test_draft_with_a_prior_period_adjustment(world, keys):
    body = keys.alpha.get(f"{INVOICES}{world.october.pk}/").json()
    assert {k: body[k] for k in ("number", "status", "month", "subtotal", "discount")} == {
        "number": None,
        "status": "draft",
        "month": "2026-10",
        "subtotal": "185.00",
        "discount": "18.50",
    }
    assert (body["tax"], body["total"], body["issued_on"]) == ("31.64", "198.14", None)
    adjustment = body["lines"][2]
    assert {
        k: adjustment[k]
        for k in ("meter", "quantity", "amount", "discount", "net_amount", "adjustment_of")
    } == {
        "meter": "backup-gb",
        "quantity": "-100",
        "amount": "-5.00",
        "discount": "-0.50",
        "net_amount": "-4.50",
        "adjustment_of": "2026-09",
    }
    assert body["lines"][1]["quantity"] == "10.483871"
    assert body["lines"][1]["unit_price"] == "9.538461"


def test_vendor_lists_every_invoice_newest_first_and_filters(world, keys):
    w = world

    def ids(**params) -> list[int]:
        response = keys.vendor.get(INVOICES, params)
        assert response.status_code == 200, response.content
        assert response.json()["next"] is None
        return [row["id"] for row in response.json()["results"]]

    everything = [w.bravo_october.pk, w.november.pk, w.october.pk, w.september.pk]
    assert ids() == everything
    assert ids(partner=w.bravo.pk) == [w.bravo_october.pk]
    assert ids(month="2026-10") == [w.bravo_october.pk, w.october.pk]
    assert ids(status="open") == [w.september.pk]
    assert ids(status="draft", partner=w.alpha.pk) == [w.november.pk, w.october.pk]
    assert ids(month="2026-12") == []
    page = keys.vendor.get(INVOICES, {"limit": 3}).json()
    assert [row["id"] for row in page["results"]] == everything[:3]
    assert [row["id"] for row in keys.vendor.get(page["next"]).json()["results"]] == [
        w.september.pk
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"month": "2026-13"}, "month"), ({"month": "Oct"}, "month"), ({"status": "x"}, "status")],
)
def test_bad_filters_are_problems(world, keys, params, field):
    body = problem(keys.vendor.get(INVOICES, params), 400)
    assert [e["field"] for e in body["errors"]] == [field]


def test_partner_key_sees_its_own_invoices_of_rated_periods_only(world, keys):
    w = world
    listed = keys.alpha.get(INVOICES).json()["results"]
    assert [row["id"] for row in listed] == [w.october.pk, w.september.pk]
    assert listed[1] == september_json(w)
    # Filtering by another partner finds nothing rather than their invoices.
    assert keys.alpha.get(INVOICES, {"partner": w.bravo.pk}).json()["results"] == []
    assert [r["id"] for r in keys.bravo.get(INVOICES).json()["results"]] == [w.bravo_october.pk]
    before = state(w)
    for pk in (w.bravo_october.pk, w.november.pk):
        problem(keys.alpha.get(f"{INVOICES}{pk}/"), 404)
        problem(keys.alpha.get(f"{INVOICES}{pk}/pdf/"), 404)
    problem(keys.bravo.get(f"{INVOICES}{w.september.pk}/"), 404)
    assert state(w) == before
    # The vendor sees the draft of the period being rated.
    assert keys.vendor.get(f"{INVOICES}{w.november.pk}/").status_code == 200


def test_pdf_route(world, keys):
    response = keys.alpha.get(
        f"{INVOICES}{world.september.pk}/pdf/", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="INV-000901-alpha-it.pdf"'
    assert response.content.startswith(b"%PDF-")
    problem(keys.alpha.get(f"{INVOICES}999999/pdf/", HTTP_ACCEPT="application/pdf"), 404)


def test_list_query_count_does_not_grow_with_invoices_or_lines(world, keys):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = keys.vendor.get(INVOICES)
            assert response.status_code == 200
        return len(queries)

    count()  # the first request of a key also records its use
    before = count()
    with world.schema():
        for n in range(4):
            client = ClientFactory(partner=world.bravo)
            make_invoice(
                partner=world.bravo,
                month=f"2027-0{n + 1}",
                lines=[{"client": client, "amount": Decimal("1.00")}] * 3,
            )
    count()  # warm again: creating the rows may outlast the 5 s host-routing cache
    assert count() == before


# --- credit notes ------------------------------------------------------------------------------


def test_vendor_credits_lines_and_reads_the_credit_note(world, keys):
    w = world
    with w.schema():
        kiwi_line, lime_line = line_ids(w.september)
    response = post(
        keys.vendor,
        CREDIT_NOTES,
        {
            "invoice": w.september.pk,
            "reason": "Backup outage on 12 September",
            "lines": [
                {"invoice_line": kiwi_line, "amount": "10.00"},
                {"invoice_line": lime_line, "amount": "30.01", "description": "All of Lime"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    with w.schema():
        note = CreditNote.objects.get()
    assert body == {
        "id": note.pk,
        "number": note.number,
        "invoice": w.september.pk,
        "invoice_number": "INV-000901",
        "reason": "Backup outage on 12 September",
        "currency": "EUR",
        "lines": [
            {
                "invoice_line": kiwi_line,
                "description": "Credit: Backup Pro: seats (average)",
                "amount": "10.00",
            },
            {"invoice_line": lime_line, "description": "All of Lime", "amount": "30.01"},
        ],
        "subtotal": "40.01",
        "tax": "7.60",
        "total": "47.61",
        "created_at": body["created_at"],
    }
    assert note.number.startswith("CN-")
    assert keys.vendor.get(f"{CREDIT_NOTES}{note.pk}/").json() == body
    assert keys.alpha.get(CREDIT_NOTES).json() == {"results": [body], "next": None}
    assert keys.alpha.get(CREDIT_NOTES, {"invoice": w.september.pk}).json()["results"] == [body]
    assert keys.bravo.get(CREDIT_NOTES).json()["results"] == []
    problem(keys.bravo.get(f"{CREDIT_NOTES}{note.pk}/"), 404)
    invoice = keys.alpha.get(f"{INVOICES}{w.september.pk}/").json()
    assert invoice["credited"] == "47.61"
    with w.schema():
        entry = AuditEntry.objects.get(action="credit_note.created")
    assert (entry.actor_kind, entry.object_id) == ("api_key", str(note.pk))


def test_whole_invoice_amount_and_the_limit(world, keys):
    w = world
    first = post(
        keys.vendor,
        CREDIT_NOTES,
        {"invoice": w.september.pk, "reason": "Goodwill", "amount": "100.00"},
    )
    assert first.status_code == 201, first.content
    assert {k: first.json()[k] for k in ("subtotal", "tax", "total")} == {
        "subtotal": "100.00",
        "tax": "19.00",
        "total": "119.00",
    }
    assert first.json()["lines"] == [
        {"invoice_line": None, "description": "Credit on invoice INV-000901", "amount": "100.00"}
    ]
    before = state(w)
    body = problem(
        post(
            keys.vendor, CREDIT_NOTES, {"invoice": w.september.pk, "reason": "x", "amount": "38.02"}
        ),
        400,
    )
    assert body["errors"] == [
        {
            "field": "amount",
            "code": "invalid",
            "message": "At most €38.01 before tax is left to credit on invoice INV-000901 "
            "(this credit is €38.02).",
        }
    ]
    assert state(w) == before
    rest = post(
        keys.vendor, CREDIT_NOTES, {"invoice": w.september.pk, "reason": "x", "amount": "38.01"}
    )
    assert rest.status_code == 201
    # The last credit takes the tax that is left: 119.00 + 45.23 = 164.23, the invoice's total.
    assert (rest.json()["tax"], rest.json()["total"]) == ("7.22", "45.23")
    assert keys.vendor.get(f"{INVOICES}{w.september.pk}/").json()["credited"] == "164.23"


EITHER = (
    "Give either lines (credit chosen lines) or amount (credit the whole invoice), not both "
    "and not neither."
)


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"reason": "x", "amount": "1.00"}, [("invoice", "This field is required.")]),
        (
            {"invoice": 0, "reason": "x", "amount": "1"},
            [("invoice", "There is no invoice with that id.")],
        ),
        ({"invoice": "SEPT", "reason": "x"}, [("lines", EITHER)]),
        (
            {
                "invoice": "SEPT",
                "reason": "x",
                "amount": "1",
                "lines": [{"invoice_line": 1, "amount": "1"}],
            },
            [("lines", EITHER)],
        ),
        (
            {"invoice": "SEPT", "reason": "x", "lines": []},
            [("lines", "This list may not be empty.")],
        ),
        (
            {"invoice": "SEPT", "reason": "", "amount": "1"},
            [("reason", "This field may not be blank.")],
        ),
        (
            {"invoice": "SEPT", "reason": "x", "amount": "1", "total": "2"},
            [("total", "This field is read-only.")],
        ),
        (
            {"invoice": "SEPT", "reason": "x", "amount": "ten"},
            [("amount", "A valid number is required.")],
        ),
        (
            {"invoice": "SEPT", "reason": "x", "amount": 1.5},
            [("amount", 'Give it as a decimal string, e.g. "12.50".')],
        ),
        (
            {"invoice": "SEPT", "reason": "x", "lines": [{"invoice_line": 1, "amount": 0.1}]},
            [("lines[0].amount", 'Give it as a decimal string, e.g. "12.50".')],
        ),
    ],
)
def test_input_errors(world, keys, payload, errors):
    payload = {k: (world.september.pk if v == "SEPT" else v) for k, v in payload.items()}
    before = state(world)
    body = problem(post(keys.vendor, CREDIT_NOTES, payload), 400)
    assert [(e["field"], e["message"]) for e in body["errors"]] == errors
    assert state(world) == before


def test_service_refusals_name_the_field(world, keys):
    w = world
    with w.schema():
        kiwi_line, _ = line_ids(w.september)
        october_line = line_ids(w.october)[0]
    before = state(w)
    draft = problem(
        post(keys.vendor, CREDIT_NOTES, {"invoice": w.october.pk, "reason": "x", "amount": "1"}),
        400,
    )
    assert draft["errors"][0]["field"] == "invoice"
    assert draft["errors"][0]["message"].startswith("This invoice is still a draft")
    too_much = problem(
        post(
            keys.vendor,
            CREDIT_NOTES,
            {
                "invoice": w.september.pk,
                "reason": "x",
                "lines": [{"invoice_line": kiwi_line, "amount": "108.01"}],
            },
        ),
        400,
    )
    assert too_much["errors"] == [
        {
            "field": "lines[0].amount",
            "code": "invalid",
            "message": "At most €108.00 is left to credit on line 1 (Backup Pro: seats "
            "(average)): its net amount is €108.00.",
        }
    ]
    foreign = problem(
        post(
            keys.vendor,
            CREDIT_NOTES,
            {
                "invoice": w.september.pk,
                "reason": "x",
                "lines": [{"invoice_line": october_line, "amount": "1.00"}],
            },
        ),
        400,
    )
    assert foreign["errors"][0]["field"] == "lines[0].invoice_line"
    cents = problem(
        post(
            keys.vendor, CREDIT_NOTES, {"invoice": w.september.pk, "reason": "x", "amount": "1.005"}
        ),
        400,
    )
    assert cents["errors"][0] == {
        "field": "amount",
        "code": "invalid",
        "message": "EUR amounts have at most 2 decimal places.",
    }
    assert state(w) == before


def test_partner_keys_cannot_issue_credit_notes(world, keys):
    before = state(world)
    body = problem(
        post(
            keys.alpha,
            CREDIT_NOTES,
            {"invoice": world.september.pk, "reason": "Please", "amount": "10.00"},
        ),
        403,
    )
    assert body["detail"].startswith("Credit notes are issued by the vendor")
    assert state(world) == before


def test_idempotency_key_replays_and_conflicts(world, keys):
    payload = {"invoice": world.september.pk, "reason": "Goodwill", "amount": "10.00"}
    first = post(keys.vendor, CREDIT_NOTES, payload, HTTP_IDEMPOTENCY_KEY="cn-1")
    again = post(keys.vendor, CREDIT_NOTES, payload, HTTP_IDEMPOTENCY_KEY="cn-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    other = post(
        keys.vendor, CREDIT_NOTES, {**payload, "amount": "11.00"}, HTTP_IDEMPOTENCY_KEY="cn-1"
    )
    problem(other, 409)
    with world.schema():
        assert CreditNote.objects.count() == 1


# --- the OpenAPI description -------------------------------------------------------------------


@pytest.fixture
def schema(world, keys) -> dict:
    response = keys.vendor.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_describes_invoices_and_credit_notes(schema):
    paths = schema["paths"]
    operations = {
        "/api/v1/invoices/": {"get"},
        "/api/v1/invoices/{id}/": {"get"},
        "/api/v1/invoices/{id}/pdf/": {"get"},
        "/api/v1/credit-notes/": {"get", "post"},
        "/api/v1/credit-notes/{id}/": {"get"},
    }
    assert {p: set(paths[p]) - {"parameters"} for p in operations} == operations
    components = schema["components"]["schemas"]
    assert set(components["Invoice"]["properties"]) == set(september_json_keys())
    assert set(components["InvoiceLine"]["properties"]) >= {
        "client",
        "description",
        "meter",
        "seats",
        "quantity",
        "unit_price",
        "amount",
        "discount",
        "net_amount",
        "tiers",
        "adjustment_of",
    }
    assert components["Invoice"]["properties"]["total"]["type"] == "string"
    assert set(components["CreditNote"]["properties"]) >= {
        "id",
        "number",
        "invoice",
        "reason",
        "lines",
        "subtotal",
        "tax",
        "total",
    }
    params = {p["name"] for p in paths["/api/v1/invoices/"]["get"]["parameters"]}
    assert params == {"cursor", "limit", "partner", "month", "status"}
    params = {p["name"] for p in paths["/api/v1/credit-notes/"]["get"]["parameters"]}
    assert params == {"cursor", "limit", "invoice", "partner"}
    pdf = paths["/api/v1/invoices/{id}/pdf/"]["get"]["responses"]
    assert set(pdf) == {"200", "404"}
    assert pdf["200"]["content"] == {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}
    }
    post_responses = paths["/api/v1/credit-notes/"]["post"]["responses"]
    assert set(post_responses) == {"201", "400", "403"}
    assert set(post_responses["403"]["content"]) == {"application/problem+json"}


def september_json_keys() -> list[str]:
    return [
        "id",
        "number",
        "partner",
        "month",
        "status",
        "currency",
        "subtotal",
        "discount",
        "tax",
        "credits",
        "total",
        "credited",
        "discount_pct",
        "tax_rate",
        "tier",
        "bill_to",
        "issued_on",
        "finalized_at",
        "lines",
    ]
