"""How partners join the program: a public application reviewed in the console (approve or
reject, with emails to the applicant), or signed directly by the vendor in the console.

Approval creates the partner (status onboarding, in the vendor's default currency), invites the
applicant as its owner and links the application, all in one transaction: if the invitation
cannot be made or sent, no partner is left behind and the application stays pending.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.enums import PartnerRole
from accounts.models import User
from accounts.services.invitations import organisation_name
from core.actors import Actor
from core.events import publish
from core.services.audit import audit_record, audited_update, snapshot
from partners.enums import ApplicationStatus, PartnerStatus
from partners.errors import PartnerError
from partners.models import Application, Partner, Tier, Track
from partners.services.invitations import partner_invitation_create
from partners.services.onboarding import onboarding_refresh
from partners.services.partners import clean_partner_fields, partner_create
from tenancy.models import Vendor

_AUDIT_FIELDS = [
    "company_name",
    "contact_name",
    "contact_email",
    "country",
    "track_id",
    "expected_client_count",
    "status",
    "decision_reason",
    "reviewed_by_id",
    "reviewed_at",
    "partner_id",
]
MAX_EXPECTED_CLIENTS = 1_000_000


def vendor_default_currency() -> str:
    """The current vendor's default currency (new partners are billed in it)."""
    currency = getattr(connection.tenant, "default_currency", None)
    if currency:
        return currency
    # schema_context() and Celery tasks activate a bare tenant that knows only its schema.
    found = (
        Vendor.objects.filter(schema_name=connection.schema_name)
        .values_list("default_currency", flat=True)
        .first()
    )
    return found or "USD"


def _send(*, template: str, to: str, context: dict[str, Any]) -> None:
    context = {"organisation": organisation_name(), **context}
    subject = "".join(render_to_string(f"emails/{template}_subject.txt", context).splitlines())
    message = EmailMultiAlternatives(
        subject=subject, body=render_to_string(f"emails/{template}.txt", context), to=[to]
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    message.send()


def application_submit(
    *,
    company_name: str,
    contact_name: str,
    contact_email: str,
    country: str,
    track: Track,
    expected_client_count: int,
    actor: Actor,
    message: str = "",
) -> Application:
    """Record an application from the public form and email the applicant a confirmation.

    One pending application per email address (a partial unique constraint in the database)."""
    company_name = company_name.strip()
    contact_name = contact_name.strip()
    contact_email = contact_email.strip().lower()
    if not company_name:
        raise PartnerError("Enter your company's name.", field="company_name")
    if not contact_name:
        raise PartnerError("Enter your name.", field="contact_name")
    try:
        validate_email(contact_email)
    except ValidationError:
        raise PartnerError("Enter a valid email address.", field="contact_email") from None
    country = clean_partner_fields({"country": country})["country"]
    if not track.accepts_applications:
        raise PartnerError(f"The {track.name} track is not open to applications.", field="track")
    if not (0 <= int(expected_client_count) <= MAX_EXPECTED_CLIENTS):
        raise PartnerError(
            "Enter how many clients you expect to manage (0 or more).",
            field="expected_client_count",
        )
    with transaction.atomic():
        try:
            # Nested, so the refused insert does not poison the outer transaction.
            with transaction.atomic():
                application = Application.objects.create(
                    company_name=company_name,
                    contact_name=contact_name,
                    contact_email=contact_email,
                    country=country,
                    track=track,
                    expected_client_count=int(expected_client_count),
                    message=message.strip(),
                    submitted_ip=actor.ip,
                )
        except IntegrityError:  # application_one_pending_per_email
            raise PartnerError(
                f"An application from {contact_email} is already waiting for review. We will "
                "email you as soon as it is decided.",
                field="contact_email",
            ) from None
        audit_record(
            actor=actor,
            action="application.submitted",
            instance=application,
            after=snapshot(application, _AUDIT_FIELDS),
        )
        # Sent inside the transaction: if the mail server refuses it, nothing is recorded and
        # the applicant can simply submit again.
        _send(
            template="application_received",
            to=contact_email,
            context={"application": application, "track": track},
        )
    return application


def _reviewer(actor: Actor) -> User | None:
    if actor.kind != "user" or actor.id is None:
        return None
    return User.objects.filter(pk=actor.id).first()


def _lock_pending(application: Application) -> Application:
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.status != ApplicationStatus.PENDING:
        raise PartnerError(
            f"This application was already {locked.get_status_display().lower()}; "
            "it cannot be decided again."
        )
    return locked


def application_approve(
    *,
    application: Application,
    actor: Actor,
    request_host: str,
    scheme: str = "https",
) -> Application:
    """Approve: create the partner (onboarding), invite the applicant as its owner, link them."""
    reviewer = _reviewer(actor)
    with transaction.atomic():
        locked = _lock_pending(application)
        partner = partner_create(
            name=locked.company_name,
            track=locked.track,
            currency=vendor_default_currency(),
            country=locked.country,
            billing_email=locked.contact_email,
            status=PartnerStatus.ONBOARDING,
            actor=actor,
        )
        partner_invitation_create(
            partner=partner,
            email=locked.contact_email,
            role=PartnerRole.OWNER,
            invited_by=reviewer,
            actor=actor,
            request_host=request_host,
            scheme=scheme,
        )
        audited_update(
            locked,
            actor=actor,
            action="application.approved",
            changes={
                "status": ApplicationStatus.APPROVED,
                "reviewed_by": reviewer,
                "reviewed_at": timezone.now(),
                "partner": partner,
            },
            audit_fields=["status", "reviewed_by_id", "reviewed_at", "partner_id"],
        )
        # A track without required steps has nothing to wait for.
        onboarding_refresh(partner=partner, actor=actor)
        publish("partner.approved", partner_id=partner.pk)
    return locked


def application_reject(*, application: Application, reason: str, actor: Actor) -> Application:
    """Reject with a reason, which is emailed to the applicant."""
    reason = (reason or "").strip()
    if not reason:
        raise PartnerError("Give the applicant a reason.", field="reason")
    if len(reason) > 1000:
        raise PartnerError("Keep the reason under 1,000 characters.", field="reason")
    with transaction.atomic():
        locked = _lock_pending(application)
        audited_update(
            locked,
            actor=actor,
            action="application.rejected",
            changes={
                "status": ApplicationStatus.REJECTED,
                "decision_reason": reason,
                "reviewed_by": _reviewer(actor),
                "reviewed_at": timezone.now(),
            },
            audit_fields=["status", "decision_reason", "reviewed_by_id", "reviewed_at"],
        )
        _send(
            template="application_rejected",
            to=locked.contact_email,
            context={"application": locked, "reason": reason},
        )
    return locked


def partner_sign_directly(
    *,
    name: str,
    track: Track,
    currency: str,
    country: str,
    actor: Actor,
    request_host: str,
    scheme: str = "https",
    owner_email: str = "",
    billing_email: str = "",
    tax_rate: Decimal | str = Decimal("0"),
    external_id: str = "",
    billing_address: str = "",
    tier: Tier | None = None,
) -> Partner:
    """A vendor signs a partner without an application: create it in onboarding and, when an
    owner's email is given, invite them, in one transaction."""
    with transaction.atomic():
        partner = partner_create(
            name=name,
            track=track,
            currency=currency,
            country=country,
            billing_email=billing_email,
            tax_rate=tax_rate,
            external_id=external_id,
            billing_address=billing_address,
            tier=tier,
            status=PartnerStatus.ONBOARDING,
            actor=actor,
        )
        if owner_email:
            partner_invitation_create(
                partner=partner,
                email=owner_email,
                role=PartnerRole.OWNER,
                invited_by=_reviewer(actor),
                actor=actor,
                request_host=request_host,
                scheme=scheme,
            )
        onboarding_refresh(partner=partner, actor=actor)
    return partner
