"""Prior-period adjustments: usage that arrived after its period was finalized.

Ingest records a `LateUsage` marker (period, partner) for such events. When a later period is
rated, each marked period is rated again for the marked partners as it would be now, and compared
with what was already billed for it on finalized invoices (its own lines plus adjustments already
finalized for it); every (client, charge) whose quantity or amount moved becomes an adjustment line
for the difference, labelled with the month it corrects. Comparing with what was billed, rather
than pricing the late events alone, keeps tiers right (late units price in the tier they reach) and
makes the result the same however often it is recomputed.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Max, Q, Sum

from billing.closing.drafts import DraftLine
from billing.closing.rate import Catalog, PeriodBounds, rate_lines
from billing.models import InvoiceLine, LateUsage
from billing.models_invoicing import LINE_QUANTITY_DIGITS, PeriodStatus
from core.money import round_money

QUANTITY_QUANTUM = Decimal(1).scaleb(-LINE_QUANTITY_DIGITS["decimal_places"])

Key = tuple[int, str, int, int]  # partner, currency, client, charge


def stored_quantity(quantity: Decimal) -> Decimal:
    """A line quantity as the database keeps it (6 decimal places, half up)."""
    return quantity.quantize(QUANTITY_QUANTUM, rounding="ROUND_HALF_UP")


def adjustment_lines(
    partner_ids: Sequence[int], month: datetime.date, catalog: Catalog
) -> dict[int, list[tuple[DraftLine, str]]]:
    """{partner: [(adjustment line without discount, currency)]} to bill in the period of
    `month`, for the finalized earlier periods with unsettled late usage of these partners."""
    markers = (
        LateUsage.objects.filter(
            partner_id__in=partner_ids,
            settled_in__isnull=True,
            period__status=PeriodStatus.FINALIZED,
            period__month__lt=month,
        )
        .order_by("period__month", "partner_id")
        .values_list(
            "period_id", "period__month", "period__starts_at", "period__ends_at", "partner_id"
        )
    )
    periods: dict[tuple, list[int]] = defaultdict(list)
    for period_id, period_month, starts_at, ends_at, partner_id in markers:
        periods[(period_id, PeriodBounds(period_month, starts_at, ends_at))].append(partner_id)

    result: dict[int, list[tuple[DraftLine, str]]] = defaultdict(list)
    for (period_id, bounds), partners in periods.items():
        now: dict[Key, DraftLine] = {}
        for partner_id, lines in rate_lines(partners, bounds, catalog).items():
            for line, currency in lines:
                now[(partner_id, currency, line.client_id, line.charge_id)] = line
        billed = {
            (
                row["invoice__partner_id"],
                row["invoice__currency"],
                row["client_id"],
                row["charge_id"],
            ): row
            for row in InvoiceLine.objects.filter(
                invoice__partner_id__in=partners, invoice__number__isnull=False
            )
            .filter(
                Q(invoice__period_id=period_id, adjustment_of__isnull=True)
                | Q(adjustment_of=bounds.month)
            )
            .values("invoice__partner_id", "invoice__currency", "client_id", "charge_id")
            .annotate(
                quantity_billed=Sum("quantity"),
                amount_billed=Sum("amount"),
                description_billed=Max("description"),
                meter_billed=Max("meter_id"),
                code_billed=Max("price_plan_code"),
            )
            .order_by()
        }
        for key in sorted(set(now) | set(billed)):
            partner_id, currency, client_id, charge_id = key
            line = now.get(key)
            old = billed.get(key)
            new_quantity = stored_quantity(line.quantity) if line else Decimal(0)
            new_amount = line.amount if line else Decimal(0)
            old_quantity = old["quantity_billed"] if old else Decimal(0)
            old_amount = old["amount_billed"] if old else Decimal(0)
            quantity, amount = new_quantity - old_quantity, new_amount - old_amount
            if not quantity and not amount:
                continue
            description = line.description if line else old["description_billed"]
            label = f"Prior-period adjustment for {bounds.month:%B %Y}: {description}"
            amount = round_money(amount, currency)  # the stored sums carry 4 decimal places
            result[partner_id].append(
                (
                    DraftLine(
                        client_id=client_id,
                        charge_id=charge_id,
                        meter_id=line.meter_id if line else old["meter_billed"],
                        seats=line.seats if line else old["meter_billed"] is None,
                        price_plan_code=line.price_plan_code if line else old["code_billed"],
                        description=label[:300],
                        quantity=quantity,
                        unit_price=line.unit_price if line else Decimal(0),
                        amount=amount,
                        discount=Decimal(0),
                        net_amount=amount,
                        pooled=line.pooled if line else False,
                        tiers=line.tiers if line else (),
                        adjustment_of=bounds.month,
                    ),
                    currency,
                )
            )
    return result
