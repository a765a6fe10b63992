"""/portal/team/: members, invitations, roles, deactivation and partner API keys. Owners manage;
other roles read the member list and get 403 on every change; other partners' objects are 404;
denied attempts change nothing."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.models import ApiKey, Invitation, User
from accounts.services.api_keys import api_key_create, hash_key
from core.actors import Actor
from core.models import AuditEntry
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.errors import PartnerError
from partners.models import OnboardingProgress, OnboardingStep, PartnerMembership
from partners.services.invitations import partner_invitation_create
from partners.services.memberships import membership_deactivate
from tests.factories import TrackFactory

from .clients_support import count_queries, make_partner, member, signed_in

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
TEAM = "/portal/team/"


@pytest.fixture
def team(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        OnboardingStep.objects.create(track=track, kind=OnboardingStepKind.API_KEY, title="Key")
    partner = make_partner(vendor_a, name="Acme IT", track=track, status=PartnerStatus.ONBOARDING)
    rival = make_partner(vendor_a, name="Rival MSP")
    users = {
        "owner": member(vendor_a, partner, "owner", "olivia@acme.example"),
        "tech": member(vendor_a, partner, "technician", "tom@acme.example"),
        "viewer": member(vendor_a, partner, "viewer", "vic@acme.example"),
        "rival_owner": member(vendor_a, rival, "owner", "rita@rival.example"),
    }
    with schema_context(vendor_a.schema):
        rival_invitation = partner_invitation_create(
            partner=rival,
            email="new@rival.example",
            role="viewer",
            invited_by=None,
            actor=ACTOR,
            request_host=vendor_a.host,
        )
        rival_key = api_key_create(name="Rival RMM", actor=ACTOR, partner_id=rival.pk).api_key
        memberships = {key: PartnerMembership.objects.get(user=user) for key, user in users.items()}
    mail.outbox.clear()
    return {
        "partner": partner,
        "rival": rival,
        "users": users,
        "memberships": memberships,
        "rival_invitation": rival_invitation,
        "rival_key": rival_key,
    }


def state(tv) -> dict:
    """Everything a team change could touch."""
    with schema_context(tv.schema):
        return {
            "memberships": sorted(
                PartnerMembership.objects.values_list("user__email", "role", "user__is_active")
            ),
            "invitations": sorted(
                Invitation.objects.values_list("email", "partner_role", "revoked_at")
            ),
            "keys": sorted(ApiKey.objects.values_list("name", "partner_id", "revoked_at")),
            "audit": AuditEntry.objects.count(),
        }


def test_every_member_sees_the_team_read_only(vendor_a, team):
    viewer = signed_in(vendor_a, team["users"]["viewer"])
    html = viewer.get(TEAM).content.decode()
    assert re.findall(r'<td data-label="User"><strong>([^<]+)</strong>', html) == [
        "User " + team["users"][k].full_name.split()[-1] for k in ("owner", "tech", "viewer")
    ]
    assert "rita@rival.example" not in html
    assert "Only owners can change the team." in html
    assert "/portal/team/invite/" not in html and "<select" not in html
    assert "Open invitations" not in html and "API keys</h2>" not in html


def test_roles_below_owner_get_403_on_every_change_and_nothing_changes(vendor_a, team):
    with schema_context(vendor_a.schema):
        invitation = partner_invitation_create(
            partner=team["partner"],
            email="pending@acme.example",
            role="viewer",
            invited_by=None,
            actor=ACTOR,
            request_host=vendor_a.host,
        )
        key = api_key_create(name="RMM", actor=ACTOR, partner_id=team["partner"].pk).api_key
    mail.outbox.clear()
    before = state(vendor_a)
    tech_membership = team["memberships"]["tech"]
    for role in ("tech", "viewer"):
        user = signed_in(vendor_a, team["users"][role])
        for method, url, data in [
            ("get", "/portal/team/invite/", None),
            ("post", "/portal/team/invite/", {"email": "x@acme.example", "role": "owner"}),
            ("post", f"/portal/team/members/{tech_membership.pk}/role/", {"role": "owner"}),
            ("get", f"/portal/team/members/{tech_membership.pk}/deactivate/", None),
            ("post", f"/portal/team/members/{tech_membership.pk}/deactivate/", {}),
            ("post", f"/portal/team/members/{tech_membership.pk}/reactivate/", {}),
            ("post", f"/portal/team/invitations/{invitation.pk}/revoke/", {}),
            ("get", "/portal/team/api-keys/new/", None),
            ("post", "/portal/team/api-keys/new/", {"name": "Mine"}),
            ("get", f"/portal/team/api-keys/{key.pk}/revoke/", None),
            ("post", f"/portal/team/api-keys/{key.pk}/revoke/", {}),
        ]:
            response = getattr(user, method)(url, data)
            assert response.status_code == 403, (role, method, url)
    assert state(vendor_a) == before
    assert mail.outbox == []


def test_another_partners_members_invitations_and_keys_are_404_and_unchanged(vendor_a, team):
    owner = signed_in(vendor_a, team["users"]["owner"])
    rival_membership = team["memberships"]["rival_owner"]
    before = state(vendor_a)
    for method, url, data in [
        ("post", f"/portal/team/members/{rival_membership.pk}/role/", {"role": "viewer"}),
        ("get", f"/portal/team/members/{rival_membership.pk}/deactivate/", None),
        ("post", f"/portal/team/members/{rival_membership.pk}/deactivate/", {}),
        ("post", f"/portal/team/members/{rival_membership.pk}/reactivate/", {}),
        ("post", f"/portal/team/invitations/{team['rival_invitation'].pk}/revoke/", {}),
        ("get", f"/portal/team/api-keys/{team['rival_key'].pk}/revoke/", None),
        ("post", f"/portal/team/api-keys/{team['rival_key'].pk}/revoke/", {}),
    ]:
        assert getattr(owner, method)(url, data).status_code == 404, (method, url)
    assert state(vendor_a) == before
    html = owner.get(TEAM).content.decode()
    assert "new@rival.example" not in html and "Rival RMM" not in html


def test_the_owner_invites_a_colleague_with_a_role(vendor_a, team):
    owner = signed_in(vendor_a, team["users"]["owner"])
    response = owner.post("/portal/team/invite/", {"email": "Nina@Acme.example", "role": "billing"})
    assert response.status_code == 302 and response["Location"] == TEAM
    with schema_context(vendor_a.schema):
        invitation = Invitation.objects.get(email="nina@acme.example")
        assert (invitation.partner_id, invitation.partner_role, invitation.invited_by_id) == (
            team["partner"].pk,
            "billing",
            team["users"]["owner"].pk,
        )
    assert [m.to for m in mail.outbox] == [["nina@acme.example"]]
    assert "Acme IT in the Vendor A partner portal as Billing" in mail.outbox[0].body
    html = owner.get(TEAM).content.decode()
    assert f'data-invitation-id="{invitation.pk}"' in html and "nina@acme.example" in html
    # An address that already has an account (here: another partner's user) is refused.
    response = owner.post("/portal/team/invite/", {"email": "rita@rival.example", "role": "viewer"})
    assert "rita@rival.example already has an account here." in response.content.decode()
    response = owner.post("/portal/team/invite/", {"email": "nina@acme.example", "role": "viewer"})
    assert "already has a pending invitation" in response.content.decode()
    response = owner.post("/portal/team/invite/", {"email": "zed@acme.example", "role": "admin"})
    assert "Select a valid choice" in response.content.decode()
    with schema_context(vendor_a.schema):
        assert Invitation.objects.filter(partner_id=team["partner"].pk).count() == 1
    # Revoking it.
    response = owner.post(f"/portal/team/invitations/{invitation.pk}/revoke/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "The invitation for nina@acme.example is revoked."
    ]
    with schema_context(vendor_a.schema):
        invitation.refresh_from_db()
        assert invitation.revoked_at is not None
    assert "data-invitation-id" not in owner.get(TEAM).content.decode()


def test_roles_change_but_a_partner_keeps_one_owner(vendor_a, team):
    owner = signed_in(vendor_a, team["users"]["owner"])
    memberships = team["memberships"]
    response = owner.post(
        f"/portal/team/members/{memberships['tech'].pk}/role/", {"role": "billing"}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["tom@acme.example is now billing."]
    response = owner.post(
        f"/portal/team/members/{memberships['owner'].pk}/role/", {"role": "viewer"}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["A partner keeps at least one owner."]
    response = owner.post(
        f"/portal/team/members/{memberships['viewer'].pk}/role/", {"role": "superuser"}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["Choose one of the partner roles."]
    assert state(vendor_a)["memberships"][:3] == [
        ("olivia@acme.example", "owner", True),
        ("rita@rival.example", "owner", True),
        ("tom@acme.example", "billing", True),
    ]
    with schema_context(vendor_a.schema):
        assert AuditEntry.objects.filter(action="partner_membership.role_changed").count() == 1


def test_deactivating_a_member_signs_them_out_and_can_be_undone(vendor_a, team):
    owner = signed_in(vendor_a, team["users"]["owner"])
    tech = signed_in(vendor_a, team["users"]["tech"])
    tech_membership = team["memberships"]["tech"]
    url = f"/portal/team/members/{tech_membership.pk}/deactivate/"
    assert "will be signed out" in owner.get(url).content.decode()
    response = owner.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["tom@acme.example is deactivated."]
    with schema_context(vendor_a.schema):
        assert User.objects.get(email="tom@acme.example").is_active is False
        entry = AuditEntry.objects.get(action="partner_user.deactivated")
        assert (entry.before["is_active"], entry.after["is_active"]) == (True, False)
    response = tech.get("/portal/clients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    owner.post(f"/portal/team/members/{tech_membership.pk}/reactivate/")
    with schema_context(vendor_a.schema):
        assert User.objects.get(email="tom@acme.example").is_active is True


def test_nobody_deactivates_themself_or_the_last_owner(vendor_a, team):
    owner = signed_in(vendor_a, team["users"]["owner"])
    own = team["memberships"]["owner"]
    assert (
        "You cannot deactivate yourself"
        in owner.get(f"/portal/team/members/{own.pk}/deactivate/").content.decode()
    )
    response = owner.post(f"/portal/team/members/{own.pk}/deactivate/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "You cannot deactivate yourself. Ask another owner to do it."
    ]
    with schema_context(vendor_a.schema):
        with pytest.raises(PartnerError, match="is the last active owner"):
            membership_deactivate(membership=own, actor=ACTOR)
        assert User.objects.get(pk=own.user_id).is_active is True
        # With a second owner, one owner may deactivate the other.
        second = member(vendor_a, team["partner"], "owner", "second@acme.example")
        membership_deactivate(membership=own, actor=Actor.for_user(second))
        assert User.objects.get(pk=own.user_id).is_active is False


def test_partner_api_keys_are_shown_once_listed_and_revoked(vendor_a, team):
    owner = signed_in(vendor_a, team["users"]["owner"])
    response = owner.post("/portal/team/api-keys/new/", {"name": "  "})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    response = owner.post("/portal/team/api-keys/new/", {"name": "ConnectWise sync"})
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r'id="api-key-secret" class="mono" type="text" value="([^"]+)"',
                       response.content.decode()).group(1)  # fmt: skip
    with schema_context(vendor_a.schema):
        key = ApiKey.objects.get(name="ConnectWise sync")
        assert (key.scope, key.partner_id, key.created_by_id) == (
            "partner",
            team["partner"].pk,
            team["users"]["owner"].pk,
        )
        assert key.key_hash == hash_key(secret)
        # Creating the key completed the onboarding step.
        assert list(
            OnboardingProgress.objects.filter(partner=team["partner"]).values_list(
                "step__kind", flat=True
            )
        ) == ["api_key"]
    html = owner.get(TEAM).content.decode()
    assert f"msp_{key.prefix}_…" in html and secret not in html
    row = re.search(rf'<tr data-key-id="{key.pk}">.*?</tr>', html, re.S).group(0)
    assert "Never" in row and "Active" in row
    # The key works on the API as this partner's key.
    assert owner.get("/portal/team/api-keys/new/").status_code == 200
    response = owner.post(f"/portal/team/api-keys/{key.pk}/revoke/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "The key “ConnectWise sync” is revoked."
    ]
    with schema_context(vendor_a.schema):
        key.refresh_from_db()
        assert key.revoked_at is not None
    row = re.search(rf'<tr data-key-id="{key.pk}">.*?</tr>', owner.get(TEAM).content.decode(), re.S)
    assert "Revoked" in row.group(0) and "/revoke/" not in row.group(0)


def test_the_team_page_runs_a_fixed_number_of_queries(vendor_a, team):
    owner = signed_in(vendor_a, team["users"]["owner"])
    owner.get(TEAM)
    few, _ = count_queries(owner, TEAM)
    for n in range(8):
        member(vendor_a, team["partner"], "viewer")
        with schema_context(vendor_a.schema):
            api_key_create(
                name=f"k{n}", actor=ACTOR, partner_id=team["partner"].pk,
                created_by=team["users"]["owner"],
            )  # fmt: skip
    many, html = count_queries(owner, TEAM)
    assert html.count("data-member-id=") == 11 and html.count("data-key-id=") == 8
    assert few == many
