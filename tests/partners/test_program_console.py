"""Console pages of the program structure and of partners' tiers: who may read and change
them (403 and nothing changed otherwise), readable form errors with nothing saved, the
evaluate / pin / unpin actions, and query counts of the list pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.enums import VendorRole
from core.models import AuditEntry
from partners.models import Partner, Program, Tier, TierChange, Track
from tests.factories import ClientFactory, PartnerFactory, ProgramFactory, TrackFactory

from .program_fixtures import console_client, ladder, portal_client

pytestmark = pytest.mark.django_db


def state(tv) -> tuple:
    """Everything the program pages can change, to prove a refused request changed nothing."""
    with schema_context(tv.schema):
        return (
            list(Program.objects.order_by("pk").values()),
            list(Track.objects.order_by("pk").values()),
            list(Tier.objects.order_by("pk").values()),
            list(Partner.objects.order_by("pk").values("pk", "tier_id", "tier_pinned")),
            TierChange.objects.count(),
            AuditEntry.objects.count(),
        )


@pytest.fixture
def world(vendor_a):
    with schema_context(vendor_a.schema):
        program = ProgramFactory(name="MSP Program")
        track = TrackFactory(program=program, name="Managed Services", slug="managed-services")
        tiers = ladder(track)
        partner = PartnerFactory(track=track, tier=tiers["registered"], name="Acme IT")
        ClientFactory.create_batch(3, partner=partner)
    return {"program": program, "track": track, "tiers": tiers, "partner": partner}


def _urls(world) -> dict[str, str]:
    track, tier, partner = world["track"], world["tiers"]["silver"], world["partner"]
    return {
        "program": "/console/program/",
        "program_create": "/console/program/new/",
        "program_edit": f"/console/program/{world['program'].pk}/edit/",
        "program_evaluate": "/console/program/evaluate/",
        "track_create": f"/console/program/{world['program'].pk}/tracks/new/",
        "track": f"/console/program/tracks/{track.pk}/",
        "track_edit": f"/console/program/tracks/{track.pk}/edit/",
        "tier_create": f"/console/program/tracks/{track.pk}/tiers/new/",
        "tier_edit": f"/console/program/tiers/{tier.pk}/edit/",
        "tier_move": f"/console/program/tiers/{tier.pk}/move/",
        "tier_delete": f"/console/program/tiers/{tier.pk}/delete/",
        "partner_tier": f"/console/partners/{partner.pk}/tier/",
        "partner_tier_evaluate": f"/console/partners/{partner.pk}/tier/evaluate/",
        "partner_tier_pin": f"/console/partners/{partner.pk}/tier/pin/",
        "partner_tier_unpin": f"/console/partners/{partner.pk}/tier/unpin/",
    }


READ_PAGES = ["program", "track", "partner_tier"]
WRITES = {
    "program_create": {"name": "Other program"},
    "program_edit": {"name": "Renamed"},
    "program_evaluate": {},
    "track_create": {"name": "Security", "slug": "security"},
    "track_edit": {"name": "Renamed", "slug": "renamed"},
    "tier_create": {
        "name": "Platinum",
        "min_mrr": "0",
        "min_active_clients": "0",
        "min_certified_technicians": "0",
        "wholesale_discount_pct": "1",
        "commission_rate_pct": "1",
        "support_sla": "standard",
    },
    "tier_edit": {
        "name": "Renamed",
        "min_mrr": "0",
        "min_active_clients": "0",
        "min_certified_technicians": "0",
        "wholesale_discount_pct": "1",
        "commission_rate_pct": "1",
        "support_sla": "standard",
    },
    "tier_move": {"to_rank": "1"},
    "tier_delete": {},
    "partner_tier_evaluate": {},
    "partner_tier_pin": {"tier": "", "reason": "Because"},
    "partner_tier_unpin": {},
}


@pytest.mark.parametrize("role", [VendorRole.ANALYST, VendorRole.FINANCE, VendorRole.SUPPORT])
def test_read_only_roles_can_read_but_every_write_is_403_and_changes_nothing(vendor_a, world, role):
    client = console_client(vendor_a, role)
    urls = _urls(world)
    for name in READ_PAGES:
        response = client.get(urls[name])
        assert response.status_code == 200, name
        assert b"Evaluate all tiers now" not in response.content
        assert b">Pin tier<" not in response.content
    before = state(vendor_a)
    for name, data in WRITES.items():
        if name == "partner_tier_pin":
            data = {**data, "tier": world["tiers"]["gold"].pk}
        assert client.post(urls[name], data).status_code == 403, name
    for name in ("program_create", "tier_create", "tier_delete", "partner_tier_pin"):
        assert client.get(urls[name]).status_code == 403, name
    assert state(vendor_a) == before


def test_partner_users_get_403_everywhere_and_anonymous_users_sign_in(vendor_a, world):
    client = portal_client(vendor_a, world["partner"])
    urls = _urls(world)
    before = state(vendor_a)
    for name in READ_PAGES:
        assert client.get(urls[name]).status_code == 403, name
    for name, data in WRITES.items():
        assert client.post(urls[name], data).status_code == 403, name
    assert state(vendor_a) == before
    from tests.conftest import host_client

    anonymous = host_client(vendor_a.host)
    response = anonymous.get(urls["program"])
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_program_page_lists_tracks_and_tiers_with_partner_counts(vendor_a, world):
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    response = client.get("/console/program/")
    assert response.status_code == 200
    [program] = response.context["programs"]
    [track] = program.tracks.all()
    assert [(t.name, t.partner_count) for t in track.tiers.all()] == [
        ("Registered", 1),
        ("Silver", 0),
        ("Gold", 0),
    ]
    body = response.content.decode()
    assert "Evaluate all tiers now" in body
    assert "1. Registered · 1" in body
    detail = client.get(f"/console/program/tracks/{world['track'].pk}/").content.decode()
    assert "MRR ≥ 5,000.00" in detail
    assert "8.50 % commission" in detail
    assert "Premium support" in detail


def test_program_page_query_count_does_not_grow_with_rows(vendor_a, world):
    client = console_client(vendor_a, VendorRole.ADMIN)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/console/program/").status_code == 200
        return len(queries)

    count()  # warm up: the first request also loads the session and the user
    baseline = count()
    with schema_context(vendor_a.schema):
        for n in range(3):
            program = ProgramFactory(name=f"Program {n}")
            for _ in range(3):
                track = TrackFactory(program=program)
                tiers = ladder(track)
                PartnerFactory.create_batch(2, track=track, tier=tiers["gold"])
    assert count() == baseline


def test_track_page_query_count_does_not_grow_with_tiers(vendor_a, world):
    client = console_client(vendor_a, VendorRole.ADMIN)
    url = f"/console/program/tracks/{world['track'].pk}/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    count()  # warm up: the first request also loads the session and the user
    baseline = count()
    with schema_context(vendor_a.schema):
        for n in range(5):
            tier = Tier.objects.create(track=world["track"], name=f"Extra {n}", rank=4 + n)
            PartnerFactory.create_batch(2, track=world["track"], tier=tier)
    assert count() == baseline


def test_channel_manager_builds_the_structure_through_the_forms(vendor_a, world):
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    response = client.post("/console/program/new/", {"name": "Security Program"})
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        program = Program.objects.get(name="Security Program")
    response = client.post(
        f"/console/program/{program.pk}/tracks/new/",
        {"name": "Managed Security", "slug": "managed-security", "accepts_applications": "on"},
    )
    with schema_context(vendor_a.schema):
        track = Track.objects.get(slug="managed-security")
    assert response["Location"] == f"/console/program/tracks/{track.pk}/"
    assert (track.position, track.accepts_applications) == (0, True)
    tier_data = WRITES["tier_create"] | {"name": "Entry", "commission_rate_pct": "3.5"}
    response = client.post(f"/console/program/tracks/{track.pk}/tiers/new/", tier_data)
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        tier = Tier.objects.get(track=track)
    assert (tier.name, tier.rank, tier.commission_rate_pct, tier.requires_agreement) == (
        "Entry",
        1,
        Decimal("3.50"),
        False,
    )
    follow = client.get(f"/console/program/tracks/{track.pk}/")
    assert [str(m) for m in follow.context["messages"]] == [
        "The program Security Program is created.",
        "The track Managed Security is created. Now add its tiers.",
        "The tier Entry is added at rank 1.",
    ]
    response = client.post(
        f"/console/program/tracks/{track.pk}/edit/",
        {"name": "Managed Security", "slug": "managed-security", "position": "4"},
    )
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        track.refresh_from_db()
        assert (track.position, track.accepts_applications) == (4, False)


@pytest.mark.parametrize(
    "url_name,data,error",
    [
        (
            "tier_create",
            {"wholesale_discount_pct": "150"},
            "Ensure this value is less than or equal to 100.",
        ),
        ("tier_create", {"name": "gold"}, "This track already has a tier called “gold”."),
        ("tier_create", {"min_active_clients": "-2"}, "Ensure this value is greater than or"),
        ("tier_edit", {"name": "Gold"}, "This track already has a tier called “Gold”."),
        ("track_create", {"slug": "managed-services"}, "Another track already uses the slug"),
        ("track_create", {"slug": "not a slug"}, "Enter a valid “slug”"),
        ("program_create", {"name": ""}, "This field is required."),
    ],
)
def test_bad_input_shows_a_readable_error_and_saves_nothing(vendor_a, world, url_name, data, error):
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    before = state(vendor_a)
    payload = {**WRITES[url_name], **data}
    response = client.post(_urls(world)[url_name], payload)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert state(vendor_a) == before


def test_reordering_and_deleting_tiers_from_the_track_page(vendor_a, world):
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    tiers = world["tiers"]
    response = client.post(f"/console/program/tiers/{tiers['gold'].pk}/move/", {"to_rank": "2"})
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        order = list(Tier.objects.filter(track=world["track"]).values_list("name", flat=True))
    assert order == ["Registered", "Gold", "Silver"]
    # Registered has a partner: refused with the reason, nothing deleted.
    url = f"/console/program/tiers/{tiers['registered'].pk}/delete/"
    assert "1 partner is on Registered" in client.get(url).content.decode()
    before = state(vendor_a)
    response = client.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "1 partner is on Registered, so it cannot be deleted. Move them to another tier first."
    ]
    assert state(vendor_a)[:3] == before[:3]
    response = client.post(f"/console/program/tiers/{tiers['silver'].pk}/delete/")
    assert response.status_code == 302
    with schema_context(vendor_a.schema):
        assert list(Tier.objects.filter(track=world["track"]).values_list("name", "rank")) == [
            ("Registered", 1),
            ("Gold", 2),
        ]


def test_evaluate_all_button_reports_what_changed(vendor_a, world):
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    with schema_context(vendor_a.schema):
        PartnerFactory(track=world["track"], tier=world["tiers"]["registered"])
    response = client.post("/console/program/evaluate/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Evaluated 2 partners: 1 changed tier."
    ]
    with schema_context(vendor_a.schema):
        change = TierChange.objects.get()
        assert (change.partner, change.to_tier.name) == (world["partner"], "Silver")
        assert change.actor_label.endswith("@example.com")  # the channel manager


def test_tier_panel_shows_the_outlook_and_history_and_its_actions(vendor_a, world):
    client = console_client(vendor_a, VendorRole.CHANNEL_MANAGER)
    partner = world["partner"]
    url = f"/console/partners/{partner.pk}/tier/"
    body = client.get(url).content.decode()
    assert "<strong>Registered</strong>" in body
    assert "Silver: requirements met, moves up at the next evaluation" in body
    assert "No tier changes yet." in body
    assert ">Evaluate</button>" in body
    assert "<summary>Pin tier</summary>" in body

    response = client.post(f"{url}evaluate/", {"next": url})
    assert response["Location"] == url
    body = client.get(url).content.decode()
    assert "Registered → Silver" in body
    assert "Gold: needs €5,000.00 more MRR, 7 more active clients, 1 more certified technician" in (
        body
    )

    # An unsafe "next" is ignored: back to the partner's page.
    response = client.post(f"{url}evaluate/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/console/partners/{partner.pk}/"


def test_pin_and_unpin_from_the_panel(vendor_a, world):
    client = console_client(vendor_a, VendorRole.ADMIN)
    partner, tiers = world["partner"], world["tiers"]
    url = f"/console/partners/{partner.pk}/tier/"
    before = state(vendor_a)
    response = client.post(f"{url}pin/", {"tier": tiers["gold"].pk, "reason": " ", "next": url})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    with schema_context(vendor_a.schema):
        other = ladder(TrackFactory())["gold"]
    response = client.post(f"{url}pin/", {"tier": other.pk, "reason": "Deal"})
    assert "Select a valid choice." in response.content.decode()
    assert state(vendor_a)[3:5] == before[3:5]

    response = client.post(
        f"{url}pin/", {"tier": tiers["gold"].pk, "reason": "Key account", "next": url}
    )
    assert response["Location"] == url
    body = client.get(url).content.decode()
    assert (
        '<span class="badge badge-neutral">pinned</span> <span class="muted">Key account</span>'
        in body
    )
    assert ">Unpin</button>" in body
    assert ">Evaluate</button>" not in body
    response = client.post(f"{url}evaluate/", {"next": url}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Acme IT's tier is pinned: unpin it to evaluate it."
    ]

    response = client.post(f"{url}unpin/", {"next": url}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Acme IT's tier is no longer pinned; evaluation puts it on Silver."
    ]
    with schema_context(vendor_a.schema):
        partner.refresh_from_db()
        assert (partner.tier, partner.tier_pinned) == (tiers["silver"], False)
        assert list(TierChange.objects.order_by("id").values_list("kind", flat=True)) == [
            "pinned",
            "unpinned",
            "evaluation",
        ]


def test_the_partner_page_includes_the_tier_panel(vendor_a, world):
    client = console_client(vendor_a, VendorRole.ADMIN)
    response = client.get(f"/console/partners/{world['partner'].pk}/")
    assert response.status_code == 200
    assert "partners/console/program/_partner_tier_panel.html" in [
        t.name for t in response.templates
    ]
