"""Domain-event handlers of the payments app (registered in PaymentsConfig.ready()). They run in
the publisher's transaction: they write rows and dispatch tasks on commit, never call Stripe."""

from __future__ import annotations


def on_billing_period_finalized(*, period_id: int) -> None:
    from .services.charges import payments_start_for_period

    payments_start_for_period(period_id=period_id)


def on_credit_note_issued(*, credit_note_id: int) -> None:
    from .services.charges import invoice_settle_by_credit
    from .services.refunds import refund_start_for_credit_note

    refund_start_for_credit_note(credit_note_id=credit_note_id)
    invoice_settle_by_credit(credit_note_id=credit_note_id)
