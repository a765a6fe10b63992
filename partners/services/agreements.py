"""Agreements: versioned, immutable texts per track; acceptances; re-acceptance notices.

A version is never edited (the database refuses UPDATE and DELETE): a new text is a new
version. Its `content_hash` is the SHA-256 of the exact Markdown text, and an acceptance keeps
that hash, so what a partner accepted can always be shown and checked. When a version replaces
one that partners had accepted, they must accept the new one by `reaccept_by`; their owners are
emailed when it is published and reminded 7 days and 1 day before the deadline. Each of those
emails is sent once per partner and version (an `AgreementNotice` row under a unique
constraint), so the sending job can run any number of times.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

import markdown
import nh3
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.enums import PartnerRole
from accounts.models import User
from accounts.services.invitations import organisation_name
from core.actors import Actor
from core.services.audit import audit_record, snapshot
from partners.enums import PartnerStatus
from partners.errors import PartnerError
from partners.models import (
    AgreementAcceptance,
    AgreementNotice,
    AgreementVersion,
    Partner,
    PartnerMembership,
    Track,
)
from partners.services.onboarding import onboarding_refresh
from partners.services.partners import today_for_vendor

logger = logging.getLogger(__name__)

# Partners that are asked to re-accept (and emailed): those that can act in the portal.
NOTIFIED_STATUSES = (PartnerStatus.ONBOARDING, PartnerStatus.ACTIVE)
# Reminders before the deadline: (kind, days before), most urgent last.
REMINDERS = (
    (AgreementNotice.Kind.REMINDER_7_DAYS, 7),
    (AgreementNotice.Kind.REMINDER_1_DAY, 1),
)
MAX_BODY = 200_000


def content_hash(text: str) -> str:
    """SHA-256 of the exact text (UTF-8), hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_agreement(text: str) -> str:
    """Markdown → HTML, sanitised with nh3 (no scripts, styles or event handlers survive).

    Headings start at <h2>: the page around the text has its own <h1>."""
    html = markdown.markdown(
        text,
        extensions=["extra", "sane_lists", "toc"],
        extension_configs={"toc": {"baselevel": 2}},
        output_format="html",
    )
    return nh3.clean(html)


def latest_version(track_id: int) -> AgreementVersion | None:
    return AgreementVersion.objects.filter(track_id=track_id).order_by("-version").first()


def partners_to_reaccept(version: AgreementVersion):
    """Partners of the version's track that accepted an earlier version and not this one."""
    earlier = AgreementAcceptance.objects.filter(
        partner=OuterRef("pk"),
        agreement__track_id=version.track_id,
        agreement__version__lt=version.version,
    )
    this = AgreementAcceptance.objects.filter(partner=OuterRef("pk"), agreement=version)
    return (
        Partner.objects.filter(track_id=version.track_id)
        .filter(Exists(earlier))
        .exclude(Exists(this))
    )


def reaccept_count(track: Track) -> int:
    """How many partners would have to re-accept if a new version of `track` were published."""
    accepted = AgreementAcceptance.objects.filter(
        partner=OuterRef("pk"), agreement__track_id=track.pk
    )
    return (
        Partner.objects.filter(track_id=track.pk, status__in=NOTIFIED_STATUSES)
        .filter(Exists(accepted))
        .count()
    )


def agreement_publish(
    *,
    track: Track,
    title: str,
    body_markdown: str,
    actor: Actor,
    reaccept_by: datetime.date | None = None,
) -> AgreementVersion:
    """Publish the next version of `track`'s agreement.

    If partners accepted an earlier version, `reaccept_by` (a day after today) is required and
    their owners are emailed after the commit (by a task; the daily job catches up on failures).
    """
    title = (title or "").strip()
    if not title:
        raise PartnerError("Give the agreement a title.", field="title")
    if len(title) > 200:
        raise PartnerError("Titles are at most 200 characters.", field="title")
    if not (body_markdown or "").strip():
        raise PartnerError("The agreement needs a text.", field="body_markdown")
    if len(body_markdown) > MAX_BODY:
        raise PartnerError(f"The text is at most {MAX_BODY:,} characters.", field="body_markdown")
    today = today_for_vendor()
    if reaccept_by is not None and reaccept_by <= today:
        raise PartnerError("The re-acceptance deadline must be after today.", field="reaccept_by")
    with transaction.atomic():
        # The track's row serialises publishing: version numbers are 1, 2, 3 … without races.
        locked = Track.objects.select_for_update().get(pk=track.pk)
        previous = (
            AgreementVersion.objects.filter(track=locked).aggregate(v=Max("version"))["v"] or 0
        )
        must_reaccept = reaccept_count(locked) if previous else 0
        if must_reaccept and reaccept_by is None:
            partners = "1 partner" if must_reaccept == 1 else f"{must_reaccept} partners"
            raise PartnerError(
                f"{partners} accepted an earlier version: set the date by which they must "
                "accept this one.",
                field="reaccept_by",
            )
        version = AgreementVersion.objects.create(
            track=locked,
            version=previous + 1,
            title=title,
            body_markdown=body_markdown,
            content_hash=content_hash(body_markdown),
            reaccept_by=reaccept_by,
            created_by_label=actor.label[:254],
        )
        audit_record(
            actor=actor,
            action="agreement.published",
            instance=version,
            after=snapshot(
                version, ["track_id", "version", "title", "content_hash", "reaccept_by"]
            ),
        )
        if must_reaccept:
            transaction.on_commit(_send_notices_later)
    return version


def _send_notices_later() -> None:
    from partners.tasks import send_agreement_notices

    try:
        send_agreement_notices.delay()
    except Exception:  # the broker is down: the daily reminder job sends them instead
        logger.exception("Could not queue the agreement notices; the daily job will send them")


def agreement_accept(
    *,
    partner: Partner,
    agreement: AgreementVersion,
    user: User,
    signer_name: str,
    signer_title: str,
    actor: Actor,
    ip: str | None = None,
) -> AgreementAcceptance:
    """`user` accepts `agreement` on the partner's behalf; only the current version of the
    partner's track, and only once."""
    signer_name = (signer_name or "").strip()
    signer_title = (signer_title or "").strip()
    if not signer_name:
        raise PartnerError("Enter the name of the person accepting.", field="signer_name")
    if not signer_title:
        raise PartnerError("Enter the signer's job title.", field="signer_title")
    if len(signer_name) > 200 or len(signer_title) > 200:
        field = "signer_name" if len(signer_name) > 200 else "signer_title"
        raise PartnerError("Names and titles are at most 200 characters.", field=field)
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if locked.is_read_only:
            raise PartnerError(
                f"{locked.name} is {locked.get_status_display().lower()}: "
                "it cannot accept agreements."
            )
        if agreement.track_id != locked.track_id:
            raise PartnerError("This agreement belongs to another track.")
        current = latest_version(locked.track_id)
        if current is not None and current.pk != agreement.pk:
            raise PartnerError(
                f"Version {agreement.version} has been replaced by version {current.version}: "
                "read the current text and accept that one."
            )
        done = AgreementAcceptance.objects.filter(partner=locked, agreement=agreement).first()
        if done is not None:
            raise PartnerError(
                f"{locked.name} already accepted version {agreement.version} on "
                f"{_vendor_date(done.accepted_at):%-d %b %Y} ({done.signer_name})."
            )
        acceptance = AgreementAcceptance.objects.create(
            partner=locked,
            agreement=agreement,
            user=user,
            signer_name=signer_name,
            signer_title=signer_title,
            signer_email=user.email,
            ip=ip,
            content_hash=agreement.content_hash,
        )
        audit_record(
            actor=actor,
            action="agreement.accepted",
            instance=acceptance,
            after=snapshot(
                acceptance,
                [
                    "partner_id",
                    "agreement_id",
                    "user_id",
                    "signer_name",
                    "signer_title",
                    "signer_email",
                    "ip",
                    "content_hash",
                ],
            ),
        )
        onboarding_refresh(partner=locked, actor=actor)
    return acceptance


# ---- the partner's standing ------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementState:
    """Where a partner stands with its track's current agreement."""

    current: AgreementVersion | None
    accepted: AgreementAcceptance | None  # its acceptance of the current version
    last_acceptance: AgreementAcceptance | None  # its latest acceptance of any version
    must_reaccept: bool  # accepted an earlier version, not the current one
    deadline: datetime.date | None
    overdue: bool

    @property
    def pending(self) -> bool:
        return self.current is not None and self.accepted is None


def agreement_states(
    partners: list[Partner], today: datetime.date | None = None
) -> dict[int, AgreementState]:
    """Every partner's standing in two queries, whatever their number."""
    today = today or today_for_vendor()
    track_ids = {p.track_id for p in partners}
    latest: dict[int, AgreementVersion] = {}
    for version in (
        AgreementVersion.objects.filter(track_id__in=track_ids)
        .order_by("track_id", "-version")
        .distinct("track_id")
    ):
        latest[version.track_id] = version
    acceptances: dict[int, list[AgreementAcceptance]] = defaultdict(list)
    for acceptance in (
        AgreementAcceptance.objects.filter(partner_id__in=[p.pk for p in partners])
        .select_related("agreement")
        .order_by("-accepted_at", "-id")
    ):
        acceptances[acceptance.partner_id].append(acceptance)
    states = {}
    for partner in partners:
        current = latest.get(partner.track_id)
        own = [a for a in acceptances[partner.pk] if a.agreement.track_id == partner.track_id]
        accepted = next((a for a in own if current and a.agreement_id == current.pk), None)
        must = current is not None and accepted is None and bool(own)
        deadline = current.reaccept_by if must and current else None
        states[partner.pk] = AgreementState(
            current=current,
            accepted=accepted,
            last_acceptance=acceptances[partner.pk][0] if acceptances[partner.pk] else None,
            must_reaccept=must,
            deadline=deadline,
            overdue=bool(must and deadline is not None and deadline < today),
        )
    return states


def agreement_overdue_partner_ids(partner_ids: list[int]) -> set[int]:
    """Which of these partners missed their re-acceptance deadline (for lists and badges)."""
    partners = list(Partner.objects.filter(pk__in=partner_ids).only("pk", "track_id"))
    return {pid for pid, state in agreement_states(partners).items() if state.overdue}


# ---- notices ---------------------------------------------------------------------------------


def _portal_url(path: str) -> str:
    from tenancy.models import Domain

    host = (
        Domain.objects.filter(tenant__schema_name=connection.schema_name)
        .order_by("-is_primary", "domain")
        .values_list("domain", flat=True)
        .first()
    )
    scheme = "https" if getattr(settings, "SECURE_SSL_REDIRECT", False) else "http"
    return f"{scheme}://{host}{path}" if host else path


def _vendor_date(moment: datetime.datetime) -> datetime.date:
    zone = getattr(connection.tenant, "timezone", None) or "UTC"
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).date()


def _due_notice(
    *,
    deadline: datetime.date | None,
    today: datetime.date,
    sent: dict[str, datetime.date],
) -> str | None:
    """Which notice a partner that must re-accept is owed today, if any."""
    if AgreementNotice.Kind.PUBLISHED not in sent:
        return AgreementNotice.Kind.PUBLISHED if deadline is None or deadline >= today else None
    if deadline is None or deadline < today:
        return None
    days_left = (deadline - today).days
    due = None
    for kind, days_before in REMINDERS:
        if days_left <= days_before:
            due = (kind, days_before)
    if due is None or due[0] in sent:
        return None
    kind, days_before = due
    # Someone who heard about it inside this reminder's window needs no reminder yet.
    window_start = deadline - datetime.timedelta(days=days_before)
    if any(day >= window_start for day in sent.values()):
        return None
    return kind


def agreement_notices_send(*, actor: Actor, today: datetime.date | None = None) -> int:
    """Email the owners of every partner that must re-accept its track's current agreement:
    the announcement once, then the 7-day and 1-day reminders once each. Returns the number of
    emails sent; running it again the same day sends nothing."""
    today = today or today_for_vendor()
    latest = list(
        AgreementVersion.objects.filter(version__gt=1)
        .order_by("track_id", "-version")
        .distinct("track_id")
    )
    pending: list[tuple[Partner, AgreementVersion]] = []
    for version in latest:  # one query per track (a vendor has a handful)
        pending += [
            (partner, version)
            for partner in partners_to_reaccept(version).filter(status__in=NOTIFIED_STATUSES)
        ]
    if not pending:
        return 0
    partner_ids = [p.pk for p, _ in pending]
    sent: dict[tuple[int, int], dict[str, datetime.date]] = defaultdict(dict)
    for notice in AgreementNotice.objects.filter(
        partner_id__in=partner_ids, agreement_id__in=[v.pk for v in latest]
    ):
        sent[(notice.partner_id, notice.agreement_id)][notice.kind] = _vendor_date(notice.sent_at)
    owners: dict[int, list[str]] = defaultdict(list)
    for partner_id, email in (
        PartnerMembership.objects.filter(
            partner_id__in=partner_ids, role=PartnerRole.OWNER, user__is_active=True
        )
        .order_by("user__email")
        .values_list("partner_id", "user__email")
    ):
        owners[partner_id].append(email)
    emails = 0
    for partner, version in pending:
        kind = _due_notice(
            deadline=version.reaccept_by, today=today, sent=sent[(partner.pk, version.pk)]
        )
        recipients = owners.get(partner.pk)
        if kind is None or not recipients:
            continue
        try:
            with transaction.atomic():
                notice = AgreementNotice.objects.create(
                    partner=partner, agreement=version, kind=kind, recipients=recipients
                )
                audit_record(
                    actor=actor,
                    action="agreement.notice_sent",
                    instance=notice,
                    after=snapshot(notice, ["partner_id", "agreement_id", "kind", "recipients"]),
                )
                # Sent inside the transaction: if the mail server refuses it, no row says it
                # was sent, and the next run tries again.
                _send_notice_email(notice=notice, partner=partner, version=version, today=today)
        except IntegrityError:
            continue  # a concurrent run sent it
        except OSError:
            logger.exception(
                "Agreement notice could not be sent",
                extra={"partner_id": partner.pk, "agreement_id": version.pk, "kind": kind},
            )
            continue
        emails += 1
    return emails


def _send_notice_email(
    *,
    notice: AgreementNotice,
    partner: Partner,
    version: AgreementVersion,
    today: datetime.date,
) -> None:
    deadline = version.reaccept_by
    context = {
        "organisation": organisation_name(),
        "partner": partner,
        "version": version,
        "kind": notice.kind,
        "is_reminder": notice.kind != AgreementNotice.Kind.PUBLISHED,
        "deadline": deadline,
        "days_left": (deadline - today).days if deadline else None,
        "agreement_url": _portal_url(reverse("portal:agreement")),
    }
    subject = "".join(render_to_string("emails/agreement_subject.txt", context).splitlines())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/agreement_notice.txt", context),
        to=notice.recipients,
    )
    message.attach_alternative(
        render_to_string("emails/agreement_notice.html", context), "text/html"
    )
    message.send()
