"""Resale prices: the MSP sets what it charges its clients per product (and per client where it
differs), each from a month on.

`resale_price_set` writes the price of (partner, product, client or none, month): a new row, or
the existing row of that same month replaced — other months' rows are history and stay as they
were. `resale_price_update` changes the price of one row (the API's PATCH). Both check every
input with readable errors (`ReportingError` naming the field), lock what they change, and write
one audit row in the same transaction.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from billing.models import Product
from core.actors import Actor
from core.money import is_rounded, minor_units
from core.services.audit import audit_record, audited_update, snapshot
from partners.models import Client, Partner

from ..enums import ResalePriceKind
from ..errors import ReportingError
from ..models import ResalePrice

MAX_FIXED_PRICE = Decimal("1000000000")  # a billion a month per client is a typo
MIN_MARKUP = Decimal("-100")
MAX_MARKUP = Decimal("1000")
EARLIEST_MONTH = datetime.date(2000, 1, 1)
PRICE_FIELDS = ["kind", "fixed_price", "markup_pct", "currency"]


def _decimal(value: Any, *, field: str, example: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ReportingError(f'Give a number as a decimal string, e.g. "{example}".', field=field)
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ReportingError(
            f'"{value}" is not a number: give it like "{example}".', field=field
        ) from None
    if not number.is_finite():
        raise ReportingError(f'Give a number, e.g. "{example}".', field=field)
    return number


def clean_price(
    *,
    kind: str,
    fixed_price: Any,
    markup_pct: Any,
    currency: str,
    for_client: bool,
) -> tuple[Decimal | None, Decimal | None]:
    """(fixed_price, markup_pct) checked for `kind`; the field not used by the kind must be
    empty. Raises ReportingError naming the field."""
    if kind not in ResalePriceKind.values:
        choices = ", ".join(ResalePriceKind.values)
        raise ReportingError(f"Choose how the price is set: one of {choices}.", field="kind")
    if kind == ResalePriceKind.INHERIT and not for_client:
        raise ReportingError(
            "“Use the product's price” only ends a client override; a product's own price is "
            "fixed or a markup.",
            field="kind",
        )
    if kind != ResalePriceKind.FIXED and fixed_price not in (None, ""):
        raise ReportingError(
            "Only a fixed price has a monthly amount: leave it empty.", field="fixed_price"
        )
    if kind != ResalePriceKind.MARKUP and markup_pct not in (None, ""):
        raise ReportingError(
            "Only a markup price has a markup %: leave it empty.", field="markup_pct"
        )
    if kind == ResalePriceKind.FIXED:
        if fixed_price in (None, ""):
            raise ReportingError("Give the monthly price per client.", field="fixed_price")
        amount = _decimal(fixed_price, field="fixed_price", example="49.00")
        if amount < 0:
            raise ReportingError("A price cannot be negative.", field="fixed_price")
        if amount > MAX_FIXED_PRICE:
            raise ReportingError(
                f"A monthly price above {MAX_FIXED_PRICE:,} {currency} is not accepted.",
                field="fixed_price",
            )
        if not is_rounded(amount, currency):
            places = minor_units(currency)
            plural = "s" if places != 1 else ""
            raise ReportingError(
                f"{currency} amounts have at most {places} decimal place{plural}.",
                field="fixed_price",
            )
        return amount, None
    if kind == ResalePriceKind.MARKUP:
        if markup_pct in (None, ""):
            raise ReportingError("Give the markup in percent, e.g. 25.", field="markup_pct")
        pct = _decimal(markup_pct, field="markup_pct", example="25")
        if not MIN_MARKUP <= pct <= MAX_MARKUP:
            raise ReportingError(
                f"A markup must be between {MIN_MARKUP} % and {MAX_MARKUP} %.", field="markup_pct"
            )
        if pct != pct.quantize(Decimal("0.01")):
            raise ReportingError("A markup has at most 2 decimal places.", field="markup_pct")
        return None, pct.quantize(Decimal("0.01"))
    return None, None


def clean_month(value: datetime.date | None) -> datetime.date:
    if not isinstance(value, datetime.date):
        raise ReportingError(
            'Give the first month the price applies to, e.g. "2026-10".', field="effective_from"
        )
    if value.day != 1:
        raise ReportingError("A price starts on the first of a month.", field="effective_from")
    if value < EARLIEST_MONTH:
        raise ReportingError(
            f"A price cannot start before {EARLIEST_MONTH:%Y-%m}.", field="effective_from"
        )
    return value


def resale_price_set(
    *,
    partner: Partner,
    product: Product,
    client: Client | None = None,
    effective_from: datetime.date,
    kind: str,
    fixed_price: Any = None,
    markup_pct: Any = None,
    actor: Actor,
) -> tuple[ResalePrice, bool]:
    """Set the price of `product` (for `client`, or for all the partner's clients) from
    `effective_from` on. Returns (row, created): the month's existing row is replaced."""
    if client is not None and client.partner_id != partner.pk:
        # The same answer as for a client that does not exist: nothing about others leaks.
        raise ReportingError("There is no such client.", field="client")
    month = clean_month(effective_from)
    fixed, markup = clean_price(
        kind=kind,
        fixed_price=fixed_price,
        markup_pct=markup_pct,
        currency=partner.currency,
        for_client=client is not None,
    )
    values = {
        "kind": kind,
        "fixed_price": fixed,
        "markup_pct": markup,
        "currency": partner.currency,
    }
    key = {"partner": partner, "product": product, "client": client, "effective_from": month}
    with transaction.atomic():
        existing = ResalePrice.objects.select_for_update().filter(**key).first()
        if existing is None:
            try:
                # A savepoint: a concurrent insert of the same month loses the race here.
                with transaction.atomic():
                    price = ResalePrice.objects.create(
                        **key, **values, updated_by_label=actor.label[:254]
                    )
            except IntegrityError:
                existing = ResalePrice.objects.select_for_update().get(**key)
            else:
                audit_record(
                    actor=actor,
                    action="resale_price.created",
                    instance=price,
                    after=snapshot(price),
                )
                return price, True
        audited_update(
            existing,
            actor=actor,
            action="resale_price.updated",
            changes={**values, "updated_by_label": actor.label[:254]},
            audit_fields=PRICE_FIELDS,
        )
        return existing, False


def resale_price_update(
    *,
    price: ResalePrice,
    kind: str | None = None,
    fixed_price: Any = None,
    markup_pct: Any = None,
    actor: Actor,
) -> ResalePrice:
    """Change one row's price. Without `kind`, the row keeps its kind and only the given
    amount changes."""
    with transaction.atomic():
        locked = ResalePrice.objects.select_for_update().select_related("partner").get(pk=price.pk)
        kind = kind or locked.kind
        if kind == locked.kind:
            # Keep the other figure of the same kind when only one is given.
            if fixed_price is None and kind == ResalePriceKind.FIXED:
                fixed_price = locked.fixed_price
            if markup_pct is None and kind == ResalePriceKind.MARKUP:
                markup_pct = locked.markup_pct
        fixed, markup = clean_price(
            kind=kind,
            fixed_price=fixed_price,
            markup_pct=markup_pct,
            currency=locked.partner.currency,
            for_client=locked.client_id is not None,
        )
        audited_update(
            locked,
            actor=actor,
            action="resale_price.updated",
            changes={
                "kind": kind,
                "fixed_price": fixed,
                "markup_pct": markup,
                "currency": locked.partner.currency,
                "updated_by_label": actor.label[:254],
            },
            audit_fields=PRICE_FIELDS,
        )
        return locked
