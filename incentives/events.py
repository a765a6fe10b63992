"""Incentives' reactions to billing's domain events (subscribed in IncentivesConfig.ready()).

- billing_period.finalized → on commit, the task `incentives.tasks.accrue_period`;
- invoice.paid, invoice.uncollectible, credit_note.issued → in the publisher's transaction (the
  invoice is locked there), accruals (collected basis) and clawbacks of that one invoice.
"""

from __future__ import annotations

from django.db import transaction

from core.events import subscribe


def on_period_finalized(period_id: int) -> None:
    from .tasks import accrue_period

    transaction.on_commit(lambda: accrue_period.delay(period_id))


def on_invoice_paid(invoice_id: int) -> None:
    from .services.accrual import invoice_on_paid

    invoice_on_paid(invoice_id)


def on_invoice_uncollectible(invoice_id: int) -> None:
    from .services.accrual import invoice_on_uncollectible

    invoice_on_uncollectible(invoice_id)


def on_credit_note_issued(credit_note_id: int) -> None:
    from .services.accrual import invoice_on_credit_note

    invoice_on_credit_note(credit_note_id)


def subscribe_accrual() -> None:
    subscribe("billing_period.finalized", on_period_finalized)
    subscribe("invoice.paid", on_invoice_paid)
    subscribe("invoice.uncollectible", on_invoice_uncollectible)
    subscribe("credit_note.issued", on_credit_note_issued)
