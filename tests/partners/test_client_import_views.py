"""/portal/clients/import/: upload → preview with row errors → import all, or only the valid rows
when the user says so. Nothing is saved from a file with errors otherwise; roles below
MANAGE_CLIENTS get 403 and change nothing."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from core.models import AuditEntry
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.models import Client, OnboardingProgress, OnboardingStep
from tests.factories import ClientFactory, TrackFactory

from .clients_support import make_partner, portal_as

pytestmark = pytest.mark.django_db

UPLOAD = "/portal/clients/import/"
PREVIEW = "/portal/clients/import/preview/"
HEADER = "name,external_id,status,service_tier,started_on,ended_on\n"
MIXED = (
    HEADER
    + "Alpha,A-1,active,Gold,2026-01-01,\n"
    + "Broken,B-1,paused,,2026-01-01,\n"
    + "Gamma,G-1,trial,,2026-02-01,\n"
    + ",N-1,active,,2026-01-01,\n"
)


@pytest.fixture(autouse=True)
def stage_dir(settings, tmp_path):
    settings.CLIENT_IMPORT_DIR = str(tmp_path)
    return tmp_path


@pytest.fixture
def partner(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        OnboardingStep.objects.create(
            track=track, kind=OnboardingStepKind.FIRST_CLIENT, title="First client"
        )
    return make_partner(vendor_a, track=track, status=PartnerStatus.ONBOARDING)


def upload(client, text: str, name: str = "clients.csv", encoding: str = "utf-8"):
    data = text.encode(encoding) if isinstance(text, str) else text
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def clients_of(tv, partner) -> list[tuple[str, str]]:
    with schema_context(tv.schema):
        return list(
            Client.objects.filter(partner=partner)
            .order_by("external_id")
            .values_list("external_id", "status")
        )


def preview_lines(html: str) -> list[str]:
    return re.findall(r'<tr data-line="(\d+)"', html)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_file_with_errors_imports_nothing_unless_only_the_valid_rows_are_chosen(
    vendor_a, partner, stage_dir
):
    tech = portal_as(vendor_a, partner, "technician")
    response = upload(tech, MIXED)
    assert (response.status_code, response["Location"]) == (302, PREVIEW)
    # The session holds a token naming the signed file, not the rows.
    token = tech.session["partners.client_import"]
    assert isinstance(token, str) and len(token) < 64 and "Alpha" not in str(dict(tech.session))
    assert [p.name for p in stage_dir.iterdir()] == [f"{token}.signed"]
    assert clients_of(vendor_a, partner) == []

    html = tech.get(PREVIEW).content.decode()
    assert (
        '<strong>clients.csv</strong>: 4 rows, <span data-count="valid">2</span> valid, '
        '<span data-count="invalid">2</span> with errors.'
    ) in html
    assert preview_lines(html) == ["2", "3", "4", "5"]
    assert "Status “paused” is unknown" in html and "Name is missing." in html
    assert "Import only the 2 valid rows" in html
    assert 'name="mode" value="all"' not in html
    errors_only = tech.get(PREVIEW, {"show": "errors"}).content.decode()
    assert preview_lines(errors_only) == ["3", "5"]

    # "Import everything" is refused for a file with errors: nothing saved.
    response = tech.post(PREVIEW, {"token": token, "mode": "all"}, follow=True)
    assert messages_of(response) == [
        "2 rows have errors, so nothing was imported. Fix the file, or import only the valid rows."
    ]
    assert clients_of(vendor_a, partner) == []

    response = tech.post(PREVIEW, {"token": token, "mode": "valid", "expected": "2"}, follow=True)
    assert response.redirect_chain[-1][0] == "/portal/clients/"
    assert messages_of(response) == [
        "2 clients imported from clients.csv. 2 rows with errors were left out."
    ]
    assert clients_of(vendor_a, partner) == [("A-1", "active"), ("G-1", "trial")]
    with schema_context(vendor_a.schema):
        entry = AuditEntry.objects.get(action="clients.imported")
        assert entry.after == {
            "imported": 2,
            "skipped_invalid_rows": 2,
            "source": "clients.csv",
            "statuses": {"active": 1, "trial": 1},
        }
        assert entry.actor_kind == "user"
        assert OnboardingProgress.objects.filter(
            partner=partner, step__kind="first_client"
        ).exists()
    # The upload is gone: a second confirmation imports nothing more.
    assert "partners.client_import" not in tech.session
    assert list(stage_dir.iterdir()) == []
    response = tech.post(PREVIEW, {"token": token, "mode": "valid", "expected": "2"})
    assert (response.status_code, response["Location"]) == (302, UPLOAD)
    assert len(clients_of(vendor_a, partner)) == 2


def test_a_clean_file_imports_every_row(vendor_a, partner):
    owner = portal_as(vendor_a, partner, "owner")
    text = HEADER + "".join(f"Client {n},C-{n:03d},active,,2026-01-01,\n" for n in range(120))
    upload(owner, text, name="all.csv")
    html = owner.get(PREVIEW).content.decode()
    assert "Ready to import" in html and "Import 120 clients" in html
    assert preview_lines(html) == [str(n) for n in range(2, 102)]  # 100 a page
    assert preview_lines(owner.get(PREVIEW, {"page": 2}).content.decode()) == [
        str(n) for n in range(102, 122)
    ]
    token = owner.session["partners.client_import"]
    response = owner.post(PREVIEW, {"token": token, "mode": "all"}, follow=True)
    assert messages_of(response) == ["120 clients imported from all.csv."]
    assert len(clients_of(vendor_a, partner)) == 120


def test_a_changed_preview_is_checked_again(vendor_a, partner):
    tech = portal_as(vendor_a, partner, "technician")
    upload(tech, MIXED)
    token = tech.session["partners.client_import"]
    # Someone adds A-1 meanwhile: only one row is valid now, not the two the user saw.
    with schema_context(vendor_a.schema):
        ClientFactory(partner=partner, external_id="A-1")
    response = tech.post(PREVIEW, {"token": token, "mode": "valid", "expected": "2"}, follow=True)
    assert messages_of(response) == [
        "The rows changed since you looked: 1 row is valid now. Check the preview again."
    ]
    assert "A client with external id “A-1” already exists." in response.content.decode()
    assert clients_of(vendor_a, partner) == [("A-1", "active")]
    # A preview replaced by a newer upload (another tab) is not confirmed either.
    response = tech.post(PREVIEW, {"token": "old", "mode": "valid", "expected": "1"}, follow=True)
    assert messages_of(response) == ["This preview was replaced by a newer upload; check it again."]
    assert clients_of(vendor_a, partner) == [("A-1", "active")]


@pytest.mark.parametrize(
    "data, message",
    [
        ((HEADER + "Café,C-1,active,,2026-01-01,\n").encode("latin-1"), "is not UTF-8 text"),
        (b"name,id\n", "The header row must be"),
        (b"a" * (5 * 1024 * 1024 + 1), "The file is larger than 5 MB"),
    ],
)
def test_unusable_files_are_explained_on_the_upload_page(vendor_a, partner, data, message):
    tech = portal_as(vendor_a, partner, "technician")
    response = upload(tech, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "partners.client_import" not in tech.session


def test_a_bom_file_is_read(vendor_a, partner):
    tech = portal_as(vendor_a, partner, "technician")
    upload(tech, "\ufeff" + HEADER + "Alpha,A-1,active,,2026-01-01,\n")
    token = tech.session["partners.client_import"]
    tech.post(PREVIEW, {"token": token, "mode": "all"})
    assert clients_of(vendor_a, partner) == [("A-1", "active")]


def test_the_preview_needs_an_upload_and_cancel_discards_it(vendor_a, partner, stage_dir):
    tech = portal_as(vendor_a, partner, "technician")
    response = tech.get(PREVIEW)
    assert (response.status_code, response["Location"]) == (302, UPLOAD)
    upload(tech, MIXED)
    assert "You have an upload waiting for confirmation." in tech.get(UPLOAD).content.decode()
    response = tech.post("/portal/clients/import/cancel/")
    assert response["Location"] == "/portal/clients/"
    assert list(stage_dir.iterdir()) == []
    assert clients_of(vendor_a, partner) == []


def test_another_users_upload_is_not_theirs_to_confirm(vendor_a, partner):
    tech = portal_as(vendor_a, partner, "technician")
    upload(tech, MIXED)
    token = tech.session["partners.client_import"]
    colleague = portal_as(vendor_a, partner, "owner")
    response = colleague.post(PREVIEW, {"token": token, "mode": "valid", "expected": "2"})
    assert (response.status_code, response["Location"]) == (302, UPLOAD)
    # Even with the token planted in their own session, the file is bound to its uploader.
    session = colleague.session
    session["partners.client_import"] = token
    session.save()
    response = colleague.post(PREVIEW, {"token": token, "mode": "valid", "expected": "2"})
    assert (response.status_code, response["Location"]) == (302, UPLOAD)
    assert clients_of(vendor_a, partner) == []


@pytest.mark.parametrize("role", ["viewer", "billing"])
def test_roles_without_manage_clients_cannot_import(vendor_a, partner, role, stage_dir):
    user = portal_as(vendor_a, partner, role)
    assert user.get(UPLOAD).status_code == 403
    assert upload(user, MIXED).status_code == 403
    assert user.get(PREVIEW).status_code == 403
    assert user.post(PREVIEW, {"token": "x", "mode": "all"}).status_code == 403
    assert user.post("/portal/clients/import/cancel/").status_code == 403
    assert list(stage_dir.iterdir()) == []
    assert clients_of(vendor_a, partner) == []
    # The template is a read: every role may download it.
    assert user.get("/portal/clients/import/template.csv").status_code == 200
