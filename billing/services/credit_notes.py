"""Credit notes: the only correction of a finalized invoice (PRODUCT.md: corrections never edit a
finalized invoice).

A credit note credits either chosen lines of the invoice (each at most what is left of that
line's net amount after earlier credit notes) or a plain amount against the whole invoice. Its
figures mirror an invoice's: subtotal = Σ credited amounts (net of the tier discount, before
tax), tax = round(subtotal × the invoice's tax rate), total = subtotal + tax. Across all credit
notes of an invoice, the credited net never exceeds the invoice's net (subtotal − discount) and
the credited total never exceeds its total — "never more than what is left to credit". A credit
note's tax is capped by the tax left (rounding many small credits up could otherwise add up to
more than the invoice's tax), and the one that takes the net to exactly zero takes the tax that
is left with it: crediting an invoice in full, in any number of steps, returns exactly its total.

Everything is checked under a lock on the invoice row, in the transaction that writes the credit
note and takes its gapless number: two credit notes of one invoice at once queue on the lock, and
the second sees what the first credited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum

from billing.errors import BillingError
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from billing.models_invoicing import InvoiceStatus
from billing.selectors_invoices import CREDITABLE_STATUSES
from billing.services.numbering import reserve_numbers
from core.actors import Actor
from core.events import publish
from core.money import ZERO, is_rounded, minor_units, percent_of
from core.services.audit import audit_record, snapshot
from partners.evaluation import money

MAX_REASON = 500
MAX_DESCRIPTION = 300


@dataclass(frozen=True)
class CreditLeft:
    """What can still be credited on an invoice: its net (before tax) and its total."""

    net: Decimal
    tax: Decimal
    total: Decimal


def credit_left(invoice: Invoice) -> CreditLeft:
    """The invoice's net, tax and total minus what its credit notes already credited."""
    credited = CreditNote.objects.filter(invoice=invoice).aggregate(
        subtotal=Sum("subtotal"), tax=Sum("tax"), total=Sum("total")
    )
    return CreditLeft(
        net=invoice.subtotal - invoice.discount - (credited["subtotal"] or ZERO),
        tax=invoice.tax - (credited["tax"] or ZERO),
        total=invoice.total - (credited["total"] or ZERO),
    )


def credited_by_line(invoice: Invoice) -> dict[int, Decimal]:
    """Invoice line id → the amount earlier credit notes credited on it."""
    rows = (
        CreditNoteLine.objects.filter(credit_note__invoice=invoice, invoice_line__isnull=False)
        .values("invoice_line")
        .annotate(credited=Sum("amount"))
    )
    return {row["invoice_line"]: row["credited"] for row in rows}


def _amount(value: Any, currency: str, *, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise BillingError('Give the amount as a decimal string, e.g. "12.50".', field=field)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BillingError(
            'Give the amount as a decimal string, e.g. "12.50".', field=field
        ) from None
    if not amount.is_finite():
        raise BillingError('Give the amount as a decimal string, e.g. "12.50".', field=field)
    if amount <= 0:
        raise BillingError("A credited amount must be more than zero.", field=field)
    if not is_rounded(amount, currency):
        places = minor_units(currency)
        raise BillingError(
            f"{currency} amounts have at most {places} decimal place{'s' if places != 1 else ''}.",
            field=field,
        )
    return amount


def _text(value: Any, *, field: str, limit: int, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise BillingError("This must be text.", field=field)
    if required and not text:
        raise BillingError("Say why the invoice is credited.", field=field)
    if len(text) > limit:
        raise BillingError(f"At most {limit} characters.", field=field)
    return text


def _check_invoice(invoice: Invoice) -> None:
    if invoice.status == InvoiceStatus.DRAFT:
        raise BillingError(
            "This invoice is still a draft: correct it by re-rating the period before it is "
            "finalized; credit notes are for finalized invoices.",
            field="invoice",
        )
    if invoice.status not in CREDITABLE_STATUSES:
        raise BillingError(
            f"Invoice {invoice.number} is {invoice.get_status_display().lower()}: only open or "
            "paid invoices can be credited.",
            field="invoice",
        )


def _line_credits(
    invoice: Invoice, lines: Sequence[Mapping[str, Any]]
) -> list[tuple[InvoiceLine, Decimal, str]]:
    """The requested lines checked against what is left of each: (line, amount, description)."""
    if not lines:
        raise BillingError("Choose at least one line to credit.", field="lines")
    by_id = {line.pk: line for line in InvoiceLine.objects.filter(invoice=invoice)}
    already = credited_by_line(invoice)
    seen: set[int] = set()
    result = []
    for index, item in enumerate(lines):
        where = f"lines[{index}]"
        if not isinstance(item, Mapping):
            raise BillingError("Each line is an object with invoice_line and amount.", field=where)
        raw_line = item.get("invoice_line")
        line_id = raw_line.pk if isinstance(raw_line, InvoiceLine) else raw_line
        if isinstance(line_id, bool) or not isinstance(line_id, int) or line_id not in by_id:
            raise BillingError(
                f"Invoice {invoice.number} has no line {raw_line}.", field=f"{where}.invoice_line"
            )
        if line_id in seen:
            raise BillingError(
                "Each invoice line can be credited once per credit note.",
                field=f"{where}.invoice_line",
            )
        seen.add(line_id)
        line = by_id[line_id]
        amount = _amount(item.get("amount"), invoice.currency, field=f"{where}.amount")
        left = line.net_amount - already.get(line_id, ZERO)
        if amount > left:
            if left <= 0:
                message = f"Nothing is left to credit on line {line.position} ({line.description})."
            else:
                message = (
                    f"At most {money(left, invoice.currency)} is left to credit on line "
                    f"{line.position} ({line.description}): its net amount is "
                    f"{money(line.net_amount, invoice.currency)}"
                    + (
                        f" and {money(already[line_id], invoice.currency)} was already credited."
                        if line_id in already
                        else "."
                    )
                )
            raise BillingError(message, field=f"{where}.amount")
        description = _text(
            item.get("description"),
            field=f"{where}.description",
            limit=MAX_DESCRIPTION,
            required=False,
        )
        result.append((line, amount, description or f"Credit: {line.description}"[:300]))
    return result


def credit_note_create(
    *,
    invoice: Invoice,
    reason: str,
    actor: Actor,
    lines: Sequence[Mapping[str, Any]] | None = None,
    amount: Decimal | None = None,
) -> CreditNote:
    """Credit `lines` ([{"invoice_line": id, "amount": Decimal, "description"?: str}]) or a
    whole-invoice `amount` (before tax; exactly one of the two) of a finalized invoice.

    Raises BillingError naming the field (`invoice`, `reason`, `amount`, `lines[1].amount` …) and
    the limit that was hit; nothing is written then."""
    reason = _text(reason, field="reason", limit=MAX_REASON, required=True)
    if (lines is None) == (amount is None):
        raise BillingError(
            "Credit either chosen lines (lines) or an amount of the whole invoice (amount).",
            field="lines" if lines is not None else "amount",
        )
    with transaction.atomic():
        # The lock serialises every credit note of this invoice: what is left cannot change
        # between the checks below and the insert.
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        _check_invoice(locked)
        currency = locked.currency
        if lines is not None:
            credits = _line_credits(locked, lines)
            amount_field = "lines"
        else:
            whole = _amount(amount, currency, field="amount")
            credits = [(None, whole, f"Credit on invoice {locked.number}")]
            amount_field = "amount"
        subtotal = sum((credit for _, credit, _ in credits), ZERO)
        left = credit_left(locked)
        if left.net <= 0 or left.total <= 0:
            raise BillingError(
                f"Invoice {locked.number} has been credited in full: nothing is left to credit.",
                field=amount_field,
            )
        if subtotal > left.net:
            raise BillingError(
                f"At most {money(left.net, currency)} before tax is left to credit on invoice "
                f"{locked.number} (this credit is {money(subtotal, currency)}).",
                field=amount_field,
            )
        # round(subtotal × tax rate), but never more tax than is left; and the credit that
        # clears the net takes all the tax that is left, so crediting in full returns exactly
        # the invoice's total whatever the steps.
        tax = (
            left.tax
            if subtotal == left.net
            else min(percent_of(subtotal, locked.tax_rate, currency), left.tax)
        )
        total = subtotal + tax
        if total > left.total:
            raise BillingError(
                f"At most {money(left.total, currency)} including tax is left to credit on "
                f"invoice {locked.number} (this credit would be {money(total, currency)}).",
                field=amount_field,
            )
        number = reserve_numbers("credit_note", 1)[0]
        note = CreditNote.objects.create(
            invoice=locked,
            number=number,
            reason=reason,
            currency=currency,
            subtotal=subtotal,
            tax=tax,
            total=total,
            created_by_label=actor.label[:254],
        )
        CreditNoteLine.objects.bulk_create(
            CreditNoteLine(
                credit_note=note, invoice_line=line, description=description, amount=credit
            )
            for line, credit, description in credits
        )
        after = snapshot(note)
        after["lines"] = [
            {
                "invoice_line": line.pk if line else None,
                "description": description,
                "amount": str(credit),
            }
            for line, credit, description in credits
        ]
        audit_record(actor=actor, action="credit_note.created", instance=note, after=after)
        # Refunds (payments) and commission clawbacks (incentives) follow in this transaction.
        publish("credit_note.issued", credit_note_id=note.pk)
    return note
