"""A portal invitation, accepted, makes the new user a member of its partner with the role."""

import re

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from accounts.services.invitations import invitation_accept
from core.actors import Actor
from partners.errors import PartnerError
from partners.models import PartnerMembership
from partners.services.invitations import partner_invitation_create
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def test_accepting_a_portal_invitation_creates_the_membership(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory(name="Northwind IT")
        invitation = partner_invitation_create(
            partner=partner,
            email="Tech@Northwind.example",
            role="technician",
            invited_by=None,
            actor=ACTOR,
            request_host=vendor_a.host,
            scheme="http",
        )
        assert (invitation.partner_id, invitation.partner_role, invitation.vendor_role) == (
            partner.pk,
            "technician",
            "",
        )
        body = mail.outbox[0].body
        assert "Northwind IT in the Vendor A partner portal as Technician" in body
        token = re.search(r"/accounts/invitations/([^/]+)/", body).group(1)
        user = invitation_accept(
            token=token, full_name="Tess Tech", password="a-long-passphrase-42"
        )
        membership = PartnerMembership.objects.get(user=user)
        assert (membership.partner, membership.role) == (partner, "technician")
        assert user.vendor_role == "" and not user.is_console_user


def test_portal_invitation_needs_a_partner_role_and_a_writable_partner(vendor_a):
    with schema_context(vendor_a.schema):
        partner = PartnerFactory()
        with pytest.raises(PartnerError, match="partner roles"):
            partner_invitation_create(
                partner=partner,
                email="x@example.com",
                role="admin",
                invited_by=None,
                actor=ACTOR,
                request_host=vendor_a.host,
            )
        suspended = PartnerFactory(status="suspended")
        with pytest.raises(PartnerError, match="is suspended"):
            partner_invitation_create(
                partner=suspended,
                email="y@example.com",
                role="viewer",
                invited_by=None,
                actor=ACTOR,
                request_host=vendor_a.host,
            )
        assert Invitation.objects.count() == 0
        assert not User.objects.filter(email__in=["x@example.com", "y@example.com"]).exists()
