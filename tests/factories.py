"""factory_boy factories for the partner program. Use them inside
`schema_context(vendor.schema)`; they write straight to the ORM (tests of services call the
services themselves)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory

from accounts.enums import PartnerRole
from accounts.models import User
from partners.enums import ClientStatus, PartnerStatus
from partners.models import Client, Partner, PartnerMembership, Program, Tier, Track


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    name = "MSP Program"


class TrackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Track

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Track {n}")
    slug = factory.Sequence(lambda n: f"track-{n}")


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    track = factory.SubFactory(TrackFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    rank = factory.Sequence(lambda n: n + 1)
    requires_agreement = False


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n:04d}")
    track = factory.SubFactory(TrackFactory)
    status = PartnerStatus.ACTIVE
    status_since = datetime.date(2026, 1, 1)
    currency = "EUR"
    country = "DE"
    billing_email = factory.Sequence(lambda n: f"billing{n}@partner.example")
    tax_rate = Decimal("19.00")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerMembership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = PartnerRole.OWNER


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Client {n:05d}")
    external_id = factory.Sequence(lambda n: f"C-{n:05d}")
    status = ClientStatus.ACTIVE
    service_tier = "Essentials"
    started_on = datetime.date(2026, 1, 1)
