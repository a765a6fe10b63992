"""The public application form: what it saves and emails, and its spam protection (honeypot,
signed timestamp, per-address rate limit), duplicates and bad input."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from core.models import AuditEntry
from partners import spam
from partners.models import Application
from tests.conftest import host_client
from tests.factories import TrackFactory
from tests.partners.onboarding_support import aged_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def track(vendor_a):
    with schema_context(vendor_a.schema):
        return TrackFactory(name="Managed Services", accepts_applications=True)


def form_data(tv, track, /, **overrides) -> dict:
    data = {
        "company_name": " Northwind IT ",
        "contact_name": "Nora North",
        "contact_email": "Nora@Northwind.example",
        "country": "DE",
        "track": str(track.pk),
        "expected_client_count": "40",
        "message": "We manage 40 clients in Hamburg.",
        "website": "",
        "form_token": aged_token(tv),
    }
    data.update(overrides)
    return data


def applications(tv) -> list[Application]:
    with schema_context(tv.schema):
        return list(Application.objects.all())


def test_form_lists_only_tracks_open_to_applications(vendor_a, track):
    with schema_context(vendor_a.schema):
        TrackFactory(name="Invite Only", accepts_applications=False)
    response = host_client(vendor_a.host).get("/apply/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Join the Vendor A partner program" in html
    assert f'<option value="{track.pk}">Managed Services</option>' in html
    assert "Invite Only" not in html
    token = re.search(r'name="form_token" value="([^"]+)"', html).group(1)
    # A fresh token, served just now: submitting it at once would be refused.
    with (
        schema_context(vendor_a.schema),
        pytest.raises(spam.SpamSuspected, match="faster than a person"),
    ):
        spam.check_form_token(token)
    assert 'name="website"' in html and 'tabindex="-1"' in html


def test_without_open_tracks_the_page_says_applications_are_closed(vendor_a):
    with schema_context(vendor_a.schema):
        TrackFactory(accepts_applications=False)
    response = host_client(vendor_a.host).get("/apply/")
    assert response.status_code == 200
    assert "Applications are closed" in response.content.decode()
    assert 'name="company_name"' not in response.content.decode()


def test_submitting_records_the_application_and_emails_a_confirmation(vendor_a, track):
    response = host_client(vendor_a.host).post("/apply/", form_data(vendor_a, track))
    assert response.status_code == 302
    assert response["Location"] == "/apply/thanks/"
    [application] = applications(vendor_a)
    assert (
        application.company_name,
        application.contact_name,
        application.contact_email,
        application.country,
        application.track_id,
        application.expected_client_count,
        application.message,
        application.status,
        application.submitted_ip,
        application.partner_id,
    ) == (
        "Northwind IT",
        "Nora North",
        "nora@northwind.example",
        "DE",
        track.pk,
        40,
        "We manage 40 clients in Hamburg.",
        "pending",
        "127.0.0.1",
        None,
    )
    [email] = mail.outbox
    assert email.to == ["nora@northwind.example"]
    assert email.subject == "We received your application to the Vendor A partner program"
    assert "Company:          Northwind IT" in email.body
    assert "Track:            Managed Services" in email.body
    with schema_context(vendor_a.schema):
        entry = AuditEntry.objects.get(action="application.submitted")
    assert (entry.actor_kind, entry.ip, entry.object_id) == (
        "anonymous",
        "127.0.0.1",
        str(application.pk),
    )
    thanks = host_client(vendor_a.host).get("/apply/thanks/")
    assert thanks.status_code == 200
    assert "We have emailed you a confirmation" in thanks.content.decode()


@pytest.mark.parametrize(
    ("token_age", "message"),
    [
        (0, "faster than a person can fill in this form"),
        (2, "faster than a person can fill in this form"),
        (spam.MAX_AGE_SECONDS + 60, "opened more than a day ago"),
    ],
)
def test_too_fast_or_stale_submissions_are_refused(vendor_a, track, token_age, message):
    data = form_data(vendor_a, track, form_token=aged_token(vendor_a, token_age))
    response = host_client(vendor_a.host).post("/apply/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert applications(vendor_a) == []
    assert mail.outbox == []
    # The page carries a fresh token, so a person can submit again after a moment.
    new_token = re.search(r'name="form_token" value="([^"]+)"', html).group(1)
    assert new_token != data["form_token"]
    # What was typed is kept.
    assert 'value="Northwind IT"' in html or 'value=" Northwind IT "' in html


@pytest.mark.parametrize("token", ["", "1700000000.000", "1700000000.000:forged-signature"])
def test_missing_or_forged_tokens_are_refused(vendor_a, track, token):
    response = host_client(vendor_a.host).post(
        "/apply/", form_data(vendor_a, track, form_token=token)
    )
    assert response.status_code == 200
    assert "This form could not be verified" in response.content.decode()
    assert applications(vendor_a) == []
    assert mail.outbox == []


def test_a_token_served_by_another_vendor_is_refused(vendor_a, vendor_b, track):
    data = form_data(vendor_a, track, form_token=aged_token(vendor_b))
    response = host_client(vendor_a.host).post("/apply/", data)
    assert "This form could not be verified" in response.content.decode()
    assert applications(vendor_a) == []


def test_the_honeypot_refuses_bots(vendor_a, track):
    data = form_data(vendor_a, track, website="https://cheap-pills.example")
    response = host_client(vendor_a.host).post("/apply/", data)
    assert response.status_code == 200
    assert "Your application could not be accepted" in response.content.decode()
    assert applications(vendor_a) == []
    assert mail.outbox == []


def test_rate_limit_per_address_and_per_vendor(vendor_a, vendor_b, track, monkeypatch):
    monkeypatch.setattr(spam, "RATE_LIMIT", 2)
    client = host_client(vendor_a.host)
    for n in range(2):
        data = form_data(vendor_a, track, contact_email=f"owner{n}@msp{n}.example")
        assert client.post("/apply/", data).status_code == 302
    refused = client.post("/apply/", form_data(vendor_a, track, contact_email="third@msp.example"))
    assert refused.status_code == 429
    assert "too many applications from your network" in refused.content.decode()
    assert sorted(a.contact_email for a in applications(vendor_a)) == [
        "owner0@msp0.example",
        "owner1@msp1.example",
    ]
    assert [m.to for m in mail.outbox] == [["owner0@msp0.example"], ["owner1@msp1.example"]]
    # Another address still gets through.
    other = host_client(vendor_a.host, REMOTE_ADDR="203.0.113.9")
    assert (
        other.post("/apply/", form_data(vendor_a, track, contact_email="x@y.example")).status_code
        == 302
    )
    # Vendor B counts its own submissions: the same address is not limited there.
    with schema_context(vendor_b.schema):
        track_b = TrackFactory()
    response = host_client(vendor_b.host).post(
        "/apply/", form_data(vendor_b, track_b, contact_email="b@msp.example")
    )
    assert response.status_code == 302
    assert [a.contact_email for a in applications(vendor_b)] == ["b@msp.example"]


def test_one_pending_application_per_email(vendor_a, track):
    client = host_client(vendor_a.host)
    assert client.post("/apply/", form_data(vendor_a, track)).status_code == 302
    again = client.post(
        "/apply/",
        form_data(vendor_a, track, contact_email="NORA@northwind.example", company_name="Other"),
    )
    assert again.status_code == 200
    assert (
        "An application from nora@northwind.example is already waiting for review"
        in again.content.decode()
    )
    assert [a.company_name for a in applications(vendor_a)] == ["Northwind IT"]
    assert len(mail.outbox) == 1
    # Once decided, the same address may apply again.
    with schema_context(vendor_a.schema):
        Application.objects.update(status="rejected")
    assert client.post("/apply/", form_data(vendor_a, track)).status_code == 302
    assert len(applications(vendor_a)) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"company_name": "  "}, "This field is required."),
        ({"contact_email": "not-an-email"}, "Enter a valid email address."),
        ({"country": "XX"}, "Select a valid choice. XX is not one of the available choices."),
        ({"expected_client_count": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"expected_client_count": "many"}, "Enter a whole number."),
        ({"track": "999999"}, "Select a valid choice."),
    ],
)
def test_bad_input_saves_nothing(vendor_a, track, overrides, message):
    response = host_client(vendor_a.host).post("/apply/", form_data(vendor_a, track, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert applications(vendor_a) == []
    assert mail.outbox == []


def test_a_track_closed_to_applications_cannot_be_chosen(vendor_a, track):
    with schema_context(vendor_a.schema):
        closed = TrackFactory(accepts_applications=False)
    response = host_client(vendor_a.host).post(
        "/apply/", form_data(vendor_a, track, track=str(closed.pk))
    )
    assert "Select a valid choice." in response.content.decode()
    assert applications(vendor_a) == []


def test_refused_tokens_do_not_count_as_slow_enough_later(vendor_a, track):
    """A token is checked against the time it was served, not the time of the last try."""
    client = host_client(vendor_a.host)
    fast = form_data(vendor_a, track, form_token=aged_token(vendor_a, 1))
    assert client.post("/apply/", fast).status_code == 200
    served = time.time() - 5
    with schema_context(vendor_a.schema):
        ok = spam.form_token(served)
    assert client.post("/apply/", {**fast, "form_token": ok}).status_code == 302
