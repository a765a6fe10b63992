"""Agreement services: publishing immutable versions with their hash, re-acceptance deadlines,
accepting (and refusing an old version or a second acceptance), onboarding on acceptance, the
partner's standing, and the announcement/reminder emails sent exactly once."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole
from core.actors import Actor
from core.models import AuditEntry
from partners.enums import OnboardingStepKind, PartnerStatus
from partners.errors import PartnerError
from partners.models import (
    AgreementAcceptance,
    AgreementNotice,
    AgreementVersion,
    OnboardingStep,
)
from partners.services.agreements import (
    agreement_accept,
    agreement_notices_send,
    agreement_overdue_partner_ids,
    agreement_publish,
    agreement_states,
    render_agreement,
)
from partners.services.partners import today_for_vendor
from partners.tasks import remind_agreement_reacceptance, send_agreement_notices
from tests.factories import MembershipFactory, PartnerFactory, TrackFactory, UserFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
TEXT = "# Partner agreement\r\n\r\nThe MSP resells **monthly**.\n"


def publish(track, version_text=TEXT, **kwargs):
    return agreement_publish(
        track=track, title="Partner agreement", body_markdown=version_text, actor=ACTOR, **kwargs
    )


def accept(partner, version, user=None, **kwargs):
    user = user or MembershipFactory(partner=partner).user
    fields = {"signer_name": "Ada Lovelace", "signer_title": "CEO", "ip": "203.0.113.9"}
    fields.update(kwargs)
    return agreement_accept(partner=partner, agreement=version, user=user, actor=ACTOR, **fields)


def test_publish_numbers_versions_hashes_the_exact_text_and_versions_are_immutable(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        first = publish(track)
        second = publish(track, "Version two")
        assert (first.version, second.version) == (1, 2)
        assert first.content_hash == hashlib.sha256(TEXT.encode()).hexdigest()
        assert first.body_markdown == TEXT  # stored exactly, \r\n included
        assert first.reaccept_by is None  # nobody had accepted anything
        assert first.created_by_label == "tests"
        entry = AuditEntry.objects.filter(action="agreement.published").order_by("id").first()
        assert entry.after == {
            "track_id": track.pk,
            "version": 1,
            "title": "Partner agreement",
            "content_hash": first.content_hash,
            "reaccept_by": None,
        }
        first.title = "Changed"
        with pytest.raises(IntegrityError), transaction.atomic():
            first.save()
        with pytest.raises(IntegrityError), transaction.atomic():
            AgreementVersion.objects.filter(pk=second.pk).delete()
        assert AgreementVersion.objects.get(pk=first.pk).title == "Partner agreement"


@pytest.mark.parametrize(
    "title,body,field,message",
    [
        ("", "text", "title", "Give the agreement a title."),
        ("x" * 201, "text", "title", "Titles are at most 200 characters."),
        ("Title", "  \n", "body_markdown", "The agreement needs a text."),
    ],
)
def test_publish_refuses_bad_input_and_saves_nothing(vendor_a, title, body, field, message):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        with pytest.raises(PartnerError) as exc:
            agreement_publish(track=track, title=title, body_markdown=body, actor=ACTOR)
        assert (str(exc.value), exc.value.field) == (message, field)
        assert AgreementVersion.objects.count() == 0


def test_a_new_version_needs_a_future_deadline_when_partners_accepted_an_earlier_one(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        v1 = publish(track)
        accept(PartnerFactory(track=track), v1)
        accept(PartnerFactory(track=track), v1)
        PartnerFactory(track=track, status=PartnerStatus.TERMINATED)  # never asked
        today = today_for_vendor()
        with pytest.raises(PartnerError) as exc:
            publish(track, "v2")
        assert str(exc.value) == (
            "2 partners accepted an earlier version: set the date by which they must accept "
            "this one."
        )
        assert exc.value.field == "reaccept_by"
        with pytest.raises(PartnerError, match="must be after today"):
            publish(track, "v2", reaccept_by=today)
        assert AgreementVersion.objects.count() == 1
        v2 = publish(track, "v2", reaccept_by=today + datetime.timedelta(days=30))
        assert v2.reaccept_by == today + datetime.timedelta(days=30)


def test_publishing_queues_the_notices_after_commit(
    vendor_a, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(send_agreement_notices, "delay", lambda: queued.append("sent"))
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        with django_capture_on_commit_callbacks(execute=True):
            v1 = publish(track)
        assert queued == []  # nobody to ask
        accept(PartnerFactory(track=track), v1)
        with django_capture_on_commit_callbacks(execute=True):
            publish(track, "v2", reaccept_by=today_for_vendor() + datetime.timedelta(days=9))
        assert queued == ["sent"]


def test_accepting_records_who_when_where_and_the_hash_then_refreshes_onboarding(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        OnboardingStep.objects.create(
            track=track, kind=OnboardingStepKind.ACCEPT_AGREEMENT, title="Accept"
        )
        version = publish(track)
        partner = PartnerFactory(track=track, status=PartnerStatus.ONBOARDING)
        user = UserFactory(email="ada@msp.example")
        MembershipFactory(partner=partner, user=user)
        acceptance = accept(partner, version, user=user, signer_name="  Ada Lovelace ")
        stored = AgreementAcceptance.objects.get()
        assert (
            stored.partner,
            stored.agreement,
            stored.user,
            stored.signer_name,
            stored.signer_title,
            stored.signer_email,
            stored.ip,
            stored.content_hash,
        ) == (
            partner,
            version,
            user,
            "Ada Lovelace",
            "CEO",
            "ada@msp.example",
            "203.0.113.9",
            version.content_hash,
        )
        assert acceptance.accepted_at is not None
        partner.refresh_from_db()
        assert partner.status == PartnerStatus.ACTIVE  # the only required step is done
        with pytest.raises(
            PartnerError, match=r"already accepted version 1 on .* \(Ada Lovelace\)"
        ):
            accept(partner, version, user=user)
        assert AgreementAcceptance.objects.count() == 1


def test_an_old_version_another_tracks_or_a_read_only_partner_is_refused(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        v1 = publish(track)
        v2 = publish(track, "v2")
        partner = PartnerFactory(track=track)
        with pytest.raises(PartnerError) as exc:
            accept(partner, v1)
        assert str(exc.value) == (
            "Version 1 has been replaced by version 2: read the current text and accept that one."
        )
        other = publish(TrackFactory())
        with pytest.raises(PartnerError, match="belongs to another track"):
            accept(partner, other)
        suspended = PartnerFactory(track=track, status=PartnerStatus.SUSPENDED)
        with pytest.raises(PartnerError, match="is suspended: it cannot accept agreements"):
            accept(suspended, v2)
        with pytest.raises(PartnerError, match="Enter the signer's job title") as exc:
            accept(partner, v2, signer_title=" ")
        assert exc.value.field == "signer_title"
        assert AgreementAcceptance.objects.count() == 0
        assert not AuditEntry.objects.filter(action="agreement.accepted").exists()


def test_states_tell_accepted_pending_and_overdue(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        v1 = publish(track)
        late, fine, new = (PartnerFactory(track=track, name=n) for n in ("late", "fine", "new"))
        accept(late, v1)
        accept(fine, v1)
        deadline = today_for_vendor() + datetime.timedelta(days=10)
        v2 = publish(track, "v2", reaccept_by=deadline)
        accept(fine, v2)
        states = agreement_states([late, fine, new], today=deadline)
        assert (states[late.pk].must_reaccept, states[late.pk].overdue) == (True, False)
        assert states[late.pk].deadline == deadline
        assert states[late.pk].last_acceptance.agreement == v1
        assert states[fine.pk].accepted.agreement == v2
        assert (states[fine.pk].must_reaccept, states[fine.pk].pending) == (False, False)
        # Never accepted anything: pending (onboarding), not a re-acceptance, never overdue.
        assert (states[new.pk].pending, states[new.pk].must_reaccept) == (True, False)
        after = deadline + datetime.timedelta(days=1)
        later = agreement_states([late, fine, new], today=after)
        assert [p.name for p in (late, fine, new) if later[p.pk].overdue] == ["late"]
        assert agreement_overdue_partner_ids([late.pk, fine.pk, new.pk]) == set()


def test_markdown_is_rendered_and_sanitised():
    html = render_agreement(
        "# Terms\n\n<script>alert(1)</script>\n\n[link](javascript:alert(1)) "
        '<a href="https://example.com" onclick="x()">ok</a>\n\n- one\n- two'
    )
    # Headings start at <h2>: the page has its own <h1>.
    assert "<h2>Terms</h2>" in html and "<h1" not in html
    assert "<li>one</li>" in html
    assert "<script" not in html
    assert "onclick" not in html
    assert "javascript:" not in html
    assert 'href="https://example.com"' in html


# ---- notices ---------------------------------------------------------------------------------


@pytest.fixture
def reaccept(vendor_a):
    """A track whose v2 replaces v1; `late` accepted v1 and has an owner, a viewer and an
    inactive owner; `done` accepted v2 already."""
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        v1 = publish(track)
        late = PartnerFactory(track=track, name="Late MSP")
        late_owner = MembershipFactory(partner=late, user=UserFactory(email="owner@late.example"))
        MembershipFactory(
            partner=late, role=PartnerRole.VIEWER, user=UserFactory(email="viewer@late.example")
        )
        MembershipFactory(
            partner=late, user=UserFactory(email="gone@late.example", is_active=False)
        )
        done = PartnerFactory(track=track, name="Done MSP")
        done_owner = MembershipFactory(partner=done, user=UserFactory(email="owner@done.example"))
        accept(late, v1, user=late_owner.user)
        accept(done, v1, user=done_owner.user)
        deadline = today_for_vendor() + datetime.timedelta(days=30)
        v2 = publish(track, "Version two", reaccept_by=deadline)
        accept(done, v2, user=done_owner.user)
        yield {"late": late, "late_owner": late_owner.user, "v2": v2, "deadline": deadline}


def test_owners_are_told_once_and_reminded_7_days_and_1_day_before(vendor_a, reaccept):
    deadline, v2 = reaccept["deadline"], reaccept["v2"]
    day = datetime.timedelta(days=1)
    with schema_context(vendor_a.schema):
        assert agreement_notices_send(actor=ACTOR) == 1
        assert agreement_notices_send(actor=ACTOR) == 0  # same day again: nothing
        [message] = mail.outbox
        assert message.to == ["owner@late.example"]
        assert message.subject == (
            f"Please accept Partner agreement (version 2) by {deadline:%-d %B %Y}"
        )
        assert "http://vendor-a.localhost/portal/agreement/" in message.body
        assert "It replaces the version Late MSP accepted" in message.body

        assert agreement_notices_send(actor=ACTOR, today=deadline - 8 * day) == 0
        assert agreement_notices_send(actor=ACTOR, today=deadline - 7 * day) == 1
        assert agreement_notices_send(actor=ACTOR, today=deadline - 6 * day) == 0
        assert mail.outbox[1].subject.startswith("Reminder: please accept Partner agreement")
        assert "The deadline is in 7 days" in mail.outbox[1].body
        assert agreement_notices_send(actor=ACTOR, today=deadline - day) == 1
        assert "The deadline is tomorrow" in mail.outbox[2].body
        assert agreement_notices_send(actor=ACTOR, today=deadline) == 0
        assert agreement_notices_send(actor=ACTOR, today=deadline + day) == 0
        assert list(
            AgreementNotice.objects.order_by("id").values_list("kind", "recipients", "agreement")
        ) == [
            ("published", ["owner@late.example"], v2.pk),
            ("reminder_7_days", ["owner@late.example"], v2.pk),
            ("reminder_1_day", ["owner@late.example"], v2.pk),
        ]
        assert AuditEntry.objects.filter(action="agreement.notice_sent").count() == 3
        # "Done MSP" accepted v2 before any notice: it was never emailed.
        assert not [m for m in mail.outbox if "owner@done.example" in m.to]


def test_a_short_deadline_skips_the_7_day_reminder_after_the_announcement(vendor_a):
    with schema_context(vendor_a.schema):
        track = TrackFactory()
        v1 = publish(track)
        partner = PartnerFactory(track=track)
        owner = MembershipFactory(partner=partner, user=UserFactory(email="o@p.example")).user
        accept(partner, v1, user=owner)
        today = today_for_vendor()
        deadline = today + datetime.timedelta(days=5)
        publish(track, "v2", reaccept_by=deadline)
        assert remind_agreement_reacceptance.run() == 1  # the announcement
        assert agreement_notices_send(actor=ACTOR, today=today + datetime.timedelta(days=1)) == 0
        assert agreement_notices_send(actor=ACTOR, today=deadline - datetime.timedelta(days=1)) == 1
        assert list(AgreementNotice.objects.order_by("id").values_list("kind", flat=True)) == [
            "published",
            "reminder_1_day",
        ]
    assert remind_agreement_reacceptance.acks_late is True


def test_a_mail_failure_records_nothing_and_the_next_run_retries(vendor_a, reaccept, monkeypatch):
    from django.core.mail import EmailMultiAlternatives

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("smtp down")

    with schema_context(vendor_a.schema):
        monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
        assert agreement_notices_send(actor=ACTOR) == 0
        assert AgreementNotice.objects.count() == 0
        monkeypatch.undo()
        assert agreement_notices_send(actor=ACTOR) == 1
        assert AgreementNotice.objects.get().kind == "published"
