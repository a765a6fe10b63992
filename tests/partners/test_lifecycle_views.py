"""Suspend / reactivate / terminate in the console: effective dates, reasons, history, audit,
permissions; and a suspended partner's portal pages are read-only."""

from __future__ import annotations

import datetime

import pytest
from django_tenants.utils import schema_context

from core.models import AuditEntry
from partners.enums import OnboardingStepKind
from partners.models import OnboardingProgress, OnboardingStep, Partner, PartnerStatusChange
from partners.services.partners import today_for_vendor
from tests.factories import PartnerFactory, TrackFactory
from tests.partners.onboarding_support import console_client, portal_client

pytestmark = pytest.mark.django_db


def status_rows(tv, partner) -> list[tuple]:
    with schema_context(tv.schema):
        return list(
            PartnerStatusChange.objects.filter(partner=partner)
            .order_by("id")
            .values_list("from_status", "to_status", "effective_on", "reason", "actor_label")
        )


def reload(tv, partner) -> Partner:
    with schema_context(tv.schema):
        return Partner.objects.get(pk=partner.pk)


@pytest.fixture
def today(vendor_a):
    with schema_context(vendor_a.schema):
        return today_for_vendor()


def test_suspend_reactivate_terminate_with_dates_reasons_history_and_audit(vendor_a, today):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Northwind IT", status_since=datetime.date(2026, 1, 1))
    client, _ = console_client(vendor_a, "channel_manager")
    form = client.get(f"/console/partners/{partner.pk}/suspend/").content.decode()
    assert "Suspend Northwind IT?" in form and f'value="{today:%Y-%m-%d}"' in form

    effective = today - datetime.timedelta(days=2)
    response = client.post(
        f"/console/partners/{partner.pk}/suspend/",
        {"suspend-effective_on": effective.isoformat(), "suspend-reason": "Unpaid invoices"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/console/partners/{partner.pk}/"
    suspended = reload(vendor_a, partner)
    assert (suspended.status, suspended.status_since) == ("suspended", effective)

    client.post(
        f"/console/partners/{partner.pk}/reactivate/",
        {"reactivate-effective_on": today.isoformat(), "reactivate-reason": ""},
    )
    assert reload(vendor_a, partner).status == "active"  # no open onboarding steps

    client.post(
        f"/console/partners/{partner.pk}/terminate/",
        {"terminate-effective_on": today.isoformat(), "terminate-reason": "Contract ended"},
    )
    assert reload(vendor_a, partner).status == "terminated"
    assert status_rows(vendor_a, partner) == [
        ("active", "suspended", effective, "Unpaid invoices", "channel_manager@vendor-a.example"),
        ("suspended", "active", today, "Reactivated", "channel_manager@vendor-a.example"),
        ("active", "terminated", today, "Contract ended", "channel_manager@vendor-a.example"),
    ]
    with schema_context(vendor_a.schema):
        actions = list(
            AuditEntry.objects.filter(object_id=str(partner.pk), object_type="partners.partner")
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions == ["partner.suspended", "partner.active", "partner.terminated"]
    page = client.get(f"/console/partners/{partner.pk}/").content.decode()
    assert "Unpaid invoices" in page and "Contract ended" in page
    assert "Active → Suspended" in page and "Suspended → Active" in page
    # Terminated is final: no lifecycle buttons, and the forms refuse.
    assert f"/console/partners/{partner.pk}/reactivate/" not in page
    again = client.post(
        f"/console/partners/{partner.pk}/reactivate/",
        {"reactivate-effective_on": today.isoformat()},
    )
    assert again.status_code == 200
    assert "A partner that is terminated cannot become" in again.content.decode()
    assert reload(vendor_a, partner).status == "terminated"


def test_reactivation_returns_to_onboarding_when_required_steps_are_open(vendor_a, today):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        OnboardingStep.objects.create(track=track, kind=OnboardingStepKind.CUSTOM, title="Call")
        partner = PartnerFactory(track=track, status="suspended", status_since=today)
    client, _ = console_client(vendor_a, "admin", "admin2@vendor-a.example")
    page = client.get(f"/console/partners/{partner.pk}/reactivate/").content.decode()
    assert "It returns to onboarding because required onboarding steps are still open." in page
    client.post(
        f"/console/partners/{partner.pk}/reactivate/",
        {"reactivate-effective_on": today.isoformat()},
    )
    assert reload(vendor_a, partner).status == "onboarding"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"suspend-reason": ""}, "This field is required."),
        ({"suspend-reason": "   "}, "This field is required."),
        (
            {"suspend-reason": "Late", "suspend-effective_on": "2999-01-01"},
            "choose today or an earlier day",
        ),
        (
            {"suspend-reason": "Late", "suspend-effective_on": "2025-12-31"},
            "Choose a day from 1 Jan 2026",
        ),
        ({"suspend-reason": "Late", "suspend-effective_on": "not a date"}, "Enter a valid date."),
    ],
)
def test_bad_lifecycle_input_changes_nothing(vendor_a, today, data, message):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(status_since=datetime.date(2026, 1, 1))
    client, _ = console_client(vendor_a, "channel_manager")
    payload = {"suspend-effective_on": today.isoformat(), **data}
    response = client.post(f"/console/partners/{partner.pk}/suspend/", payload)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert reload(vendor_a, partner).status == "active"
    assert status_rows(vendor_a, partner) == []


@pytest.mark.parametrize("role", ["analyst", "finance", "support", "enablement"])
def test_only_channel_managers_and_admins_change_the_lifecycle(vendor_a, today, role):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
    client, _ = console_client(vendor_a, role)
    for action in ("suspend", "terminate"):
        assert client.get(f"/console/partners/{partner.pk}/{action}/").status_code == 403
        response = client.post(
            f"/console/partners/{partner.pk}/{action}/",
            {f"{action}-effective_on": today.isoformat(), f"{action}-reason": "No"},
        )
        assert response.status_code == 403
    assert reload(vendor_a, partner).status == "active"
    assert status_rows(vendor_a, partner) == []
    page = client.get(f"/console/partners/{partner.pk}/").content.decode()
    assert f"/console/partners/{partner.pk}/suspend/" not in page


def test_a_suspended_partners_portal_pages_are_read_only(vendor_a, today):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        OnboardingStep.objects.create(
            track=track, kind=OnboardingStepKind.BILLING_PROFILE, title="Billing"
        )
        partner = PartnerFactory(
            track=track,
            status="suspended",
            billing_email="old@msp.example",
            billing_address="",
        )
    client, _ = portal_client(vendor_a, partner, "owner")
    checklist = client.get("/portal/onboarding/")
    assert checklist.status_code == 200
    assert "is suspended: the portal is read-only" in checklist.content.decode()
    assert "Complete the billing profile" not in checklist.content.decode()
    page = client.get("/portal/billing-profile/")
    assert page.status_code == 200
    assert "these details cannot be changed" in page.content.decode()
    assert '<form method="post" class="form"' not in page.content.decode()
    response = client.post(
        "/portal/billing-profile/",
        {"billing_email": "new@msp.example", "country": "FR", "billing_address": "Rue 1"},
    )
    assert response.status_code == 403
    after = reload(vendor_a, partner)
    assert (after.billing_email, after.country, after.billing_address) == (
        "old@msp.example",
        "DE",
        "",
    )
    with schema_context(vendor_a.schema):
        assert OnboardingProgress.objects.filter(partner=partner).count() == 0
        assert not AuditEntry.objects.filter(action="partner.updated").exists()


def test_console_sign_off_is_refused_for_a_suspended_partner(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        step = OnboardingStep.objects.create(
            track=track, kind=OnboardingStepKind.CUSTOM, title="Call"
        )
        partner = PartnerFactory(track=track, status="suspended")
    client, _ = console_client(vendor_a, "channel_manager")
    response = client.post(f"/console/partners/{partner.pk}/onboarding/{step.pk}/sign-off/")
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        assert not OnboardingProgress.objects.filter(partner=partner).exists()
    page = client.get(response["Location"]).content.decode()
    assert "is suspended." in page
