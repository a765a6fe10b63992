"""A partner's payout profile: how its commission is paid (credit on the next invoice, the
default, or a Stripe Connect transfer to its connected account)."""

from __future__ import annotations

import re

from django.db import transaction

from core.actors import Actor
from core.services.audit import audit_record, snapshot

from ..errors import PayoutError
from ..models import PayoutMethod, PayoutProfile

__all__ = ["payout_profile_set"]

ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


def payout_profile_set(
    *, partner_id: int, method: str, stripe_account_id: str = "", actor: Actor
) -> PayoutProfile:
    """Set the partner's payout method; payouts created after this use it."""
    if method not in PayoutMethod.values:
        raise PayoutError("Choose how you want to be paid.", field="method")
    account = (stripe_account_id or "").strip()
    if method == PayoutMethod.STRIPE_TRANSFER:
        if not ACCOUNT_ID.match(account):
            raise PayoutError(
                'Give your Stripe connected account id, e.g. "acct_1A2b3C".',
                field="stripe_account_id",
            )
    else:
        account = ""
    with transaction.atomic():
        profile, created = PayoutProfile.objects.select_for_update().get_or_create(
            partner_id=partner_id
        )
        before = None if created else snapshot(profile)
        profile.method = method
        profile.stripe_account_id = account
        profile.save()
        audit_record(
            actor=actor,
            action="payout_profile.updated",
            instance=profile,
            before=before,
            after=snapshot(profile),
        )
    return profile
