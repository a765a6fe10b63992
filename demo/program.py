"""The demo vendor's partner program: 2 tracks with 4 tiers each, agreements, an onboarding
checklist, ~25 partners in every lifecycle state with ~400 clients, pending applications, and the
demo MSP admin as owner of "Northwind IT". Everything goes through the services (so the audit log
and histories look real); deterministic (a fixed random seed); skipped when the program exists.
"""

from __future__ import annotations

import datetime
import random
import re
from decimal import Decimal

from django.db import transaction
from django.test.utils import override_settings

from accounts.enums import PartnerRole
from accounts.models import User
from accounts.services.api_keys import api_key_create
from core.actors import Actor
from partners.enums import ClientStatus, OnboardingStepKind, PartnerStatus
from partners.models import Partner, PartnerMembership, Program, Track
from partners.services.agreements import agreement_accept, agreement_publish, latest_version
from partners.services.applications import application_reject, application_submit
from partners.services.clients import client_change_status, client_create
from partners.services.memberships import membership_create
from partners.services.onboarding import onboarding_refresh, onboarding_step_create
from partners.services.partners import partner_change_status, partner_create
from partners.services.programs import program_create, track_create
from partners.services.tiers import tier_create, tiers_evaluate_all

NORTHWIND = "Northwind IT"
DUMMY_MAIL = "django.core.mail.backends.dummy.EmailBackend"

TIERS = [
    # name, min MRR, min active clients, min certified techs, discount %, commission %, bonus, SLA
    ("Registered", "0", 0, 0, "0", "5", False, "standard"),
    ("Silver", "0", 10, 0, "10", "8", False, "priority"),
    ("Gold", "10000", 25, 1, "18", "12", True, "premium"),
    ("Platinum", "40000", 60, 3, "25", "15", True, "enterprise"),
]

AGREEMENT = """# {track} Partner Agreement

**Version {version}.** Between Acme Security ("Vendor") and the partner named on acceptance.

## 1. Appointment
The Vendor appoints the Partner as a non-exclusive managed service provider of the Vendor's
products for the Partner's own end clients.

## 2. Billing
The Vendor bills the Partner monthly for usage and seats across all of its clients, at the
wholesale prices of the Partner's tier. Invoices are due within {days} days.

## 3. Commission
The Vendor pays commission on the monthly recurring revenue the Partner brings, as set out in
the commission plan of the Partner's tier.

## 4. Term
Either party may end this agreement with 30 days' written notice.
"""

PARTNER_NAMES = [
    "Contoso Managed IT",
    "Fabrikam Cloud Services",
    "Tailspin Networks",
    "Adventure Works IT",
    "Wingtip Security",
    "Litware Systems",
    "Proseware MSP",
    "Lucerne Technology",
    "Alpine Ski IT",
    "Blue Yonder Support",
    "Coho Solutions",
    "Fourth Coffee Tech",
    "Graphic Design IT",
    "Humongous Hosting",
    "Margie's IT",
    "Northwind Traders Cloud",
    "Relecloud Partners",
    "School of Fine IT",
    "Southridge Managed",
    "Trey Research IT",
    "VanArsdel Services",
    "Wide World Security",
    "Woodgrove Managed",
    "Datum Networks",
]

# Lifecycle states to spread over the partners: every state appears.
STATES = (
    [PartnerStatus.ACTIVE] * 14
    + [PartnerStatus.ONBOARDING] * 5
    + [PartnerStatus.SUSPENDED] * 2
    + [PartnerStatus.TERMINATED] * 1
    + [PartnerStatus.APPLIED] * 2
)

COUNTRIES = ["DE", "AT", "CH", "NL", "FR", "GB", "US", "SE"]
SERVICE_TIERS = ["Essentials", "Advanced", "Premium"]


def _tracks(actor: Actor) -> list[Track]:
    program = program_create(
        name="Acme MSP Program", description="Acme's partner program.", actor=actor
    )
    tracks = [
        track_create(
            program=program,
            name="Managed Services",
            slug="managed-services",
            description="MSPs that run Acme for their clients' endpoints.",
            actor=actor,
        ),
        track_create(
            program=program,
            name="Managed Security",
            slug="managed-security",
            description="MSSPs with a 24/7 security operations practice.",
            actor=actor,
        ),
    ]
    for track in tracks:
        for name, mrr, clients, techs, discount, commission, bonus, sla in TIERS:
            tier_create(
                track=track,
                name=name,
                min_mrr=Decimal(mrr),
                min_active_clients=clients,
                min_certified_technicians=techs,
                requires_agreement=name != "Registered",
                wholesale_discount_pct=Decimal(discount),
                commission_rate_pct=Decimal(commission),
                growth_bonus_eligible=bonus,
                support_sla=sla,
                actor=actor,
            )
        agreement_publish(
            track=track,
            title=f"{track.name} Partner Agreement",
            body_markdown=AGREEMENT.format(track=track.name, version=1, days=30),
            actor=actor,
        )
        for kind, title, required in (
            (OnboardingStepKind.ACCEPT_AGREEMENT, "Accept the partner agreement", True),
            (OnboardingStepKind.BILLING_PROFILE, "Complete your billing profile", True),
            (OnboardingStepKind.FIRST_CLIENT, "Provision your first client", True),
            (OnboardingStepKind.API_KEY, "Connect your RMM with an API key", False),
            (OnboardingStepKind.CUSTOM, "Kick-off call with your channel manager", True),
        ):
            onboarding_step_create(
                track=track, kind=kind, title=title, required=required, actor=actor
            )
    return tracks


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.split()[0].lower())


def _owner(partner: Partner, actor: Actor) -> User:
    """A demo owner for a partner; it has no usable password (only the Northwind login is for
    people to use)."""
    slug = _slug(partner.name)
    user = User.objects.create_user(
        f"owner@{slug}.example", None, full_name=f"{partner.name} Owner"
    )
    membership_create(user=user, partner=partner, role=PartnerRole.OWNER, actor=actor)
    return user


def _accept(partner: Partner, owner: User, actor: Actor) -> None:
    version = latest_version(partner.track_id)
    if version is None:
        return
    agreement_accept(
        partner=partner,
        agreement=version,
        user=owner,
        signer_name=owner.full_name,
        signer_title="Managing Director",
        ip="203.0.113.10",
        actor=actor,
    )


def _clients(partner: Partner, count: int, rng: random.Random, actor: Actor) -> None:
    for n in range(count):
        started = datetime.date(2025, 1, 1) + datetime.timedelta(days=rng.randrange(0, 640))
        status = rng.choices(
            [ClientStatus.ACTIVE, ClientStatus.TRIAL, ClientStatus.NFR, ClientStatus.SUSPENDED],
            weights=[80, 10, 4, 6],
        )[0]
        client = client_create(
            partner=partner,
            name=f"{partner.name.split()[0]} Client {n + 1:03d}",
            external_id=f"{partner.pk:03d}-{n + 1:04d}",
            status=status,
            service_tier=rng.choice(SERVICE_TIERS),
            started_on=started,
            actor=actor,
        )
        if status == ClientStatus.ACTIVE and rng.random() < 0.05:
            client_change_status(
                client=client,
                to_status=ClientStatus.CHURNED,
                ended_on=started + datetime.timedelta(days=rng.randrange(30, 200)),
                actor=actor,
            )


def demo_program_ensure(*, actor: Actor, msp_admin: User) -> bool:
    """Create the demo program when there is none. Returns True when it created it."""
    if Program.objects.exists():
        return False
    rng = random.Random(20261125)  # fixed: the demo looks the same on every machine
    # The demo's partners and applicants have made-up addresses: send them nothing, whatever
    # mail backend is configured.
    with override_settings(EMAIL_BACKEND=DUMMY_MAIL), transaction.atomic():
        tracks = _tracks(actor)
        # The demo MSP admin's own partner: active, agreement accepted, 40 clients.
        northwind = partner_create(
            name=NORTHWIND,
            track=tracks[0],
            currency="EUR",
            country="DE",
            billing_email="billing@northwind-it.example",
            tax_rate="19",
            billing_address="Hafenstraße 1\n20457 Hamburg",
            external_id="NW-001",
            actor=actor,
        )
        if not PartnerMembership.objects.filter(user=msp_admin).exists():
            membership_create(
                user=msp_admin, partner=northwind, role=PartnerRole.OWNER, actor=actor
            )
        _accept(northwind, msp_admin, actor)
        _clients(northwind, 40, rng, actor)
        api_key_create(name="Northwind RMM", partner_id=northwind.pk, actor=actor)
        partner_change_status(
            partner=northwind,
            to_status=PartnerStatus.ACTIVE,
            reason="Kick-off call done",
            actor=actor,
        )

        for name, state in zip(PARTNER_NAMES, STATES, strict=True):
            track = tracks[0] if rng.random() < 0.7 else tracks[1]
            partner = partner_create(
                name=name,
                track=track,
                currency="EUR",
                country=rng.choice(COUNTRIES),
                billing_email=f"billing@{_slug(name)}.example",
                tax_rate="19",
                billing_address="Demo street 1",
                external_id=f"P-{len(name):02d}{rng.randrange(1000):03d}",
                status=PartnerStatus.APPLIED
                if state == PartnerStatus.APPLIED
                else PartnerStatus.ONBOARDING,
                actor=actor,
            )
            if state == PartnerStatus.APPLIED:
                continue
            owner = _owner(partner, actor)
            if state == PartnerStatus.ONBOARDING:
                if rng.random() < 0.6:
                    _accept(partner, owner, actor)
                if rng.random() < 0.5:
                    _clients(partner, rng.randrange(1, 4), rng, actor)
                onboarding_refresh(partner=partner, actor=actor)
                continue
            _accept(partner, owner, actor)
            _clients(partner, rng.randrange(6, 34), rng, actor)
            partner_change_status(
                partner=partner,
                to_status=PartnerStatus.ACTIVE,
                reason="Onboarding complete",
                actor=actor,
            )
            if state in (PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED):
                partner_change_status(
                    partner=partner,
                    to_status=PartnerStatus.SUSPENDED,
                    reason="Invoices overdue",
                    actor=actor,
                )
            if state == PartnerStatus.TERMINATED:
                partner_change_status(
                    partner=partner,
                    to_status=PartnerStatus.TERMINATED,
                    reason="Left the program",
                    actor=actor,
                )

        for company, email, count in (
            ("Gamma Managed Services", "ops@gamma-msp.example", 35),
            ("Delta Cloud IT", "hello@delta-cloud.example", 12),
            ("Epsilon Secure", "team@epsilon-secure.example", 80),
        ):
            application_submit(
                company_name=company,
                contact_name="Demo Applicant",
                contact_email=email,
                country="DE",
                track=tracks[0],
                expected_client_count=count,
                message="We manage endpoints for SMBs and would like to offer Acme.",
                actor=actor,
            )
        spam = application_submit(
            company_name="Cheap Pills Ltd",
            contact_name="Bot",
            contact_email="bot@spam.example",
            country="US",
            track=tracks[1],
            expected_client_count=1,
            actor=actor,
        )
        application_reject(application=spam, reason="Not a managed service provider.", actor=actor)
        tiers_evaluate_all(actor=actor)
    return True
