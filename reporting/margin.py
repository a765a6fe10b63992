"""The MSP's margin, as pure functions over plain dataclasses (no database): which resale price
applies to a (product, client) in a month, what that price earns, and the per-client figures of
a month.

The rules (docs/architecture.md, "Reporting"):
- **Vendor cost** of a client in a month = Σ net amounts of the client's lines on the partner's
  invoice for that month — the same lines that bill the MSP, prior-period adjustment lines
  included (they count in the month they are billed) — minus the credit notes *issued* in that
  month on those clients' lines. Credits against the whole invoice (not a line) lower the month's
  total only ("credits not tied to a client").
- **Resale revenue** of a (client, product) in a month: with a `fixed` price, that amount when
  the client has a regular (non-adjustment) line of the product that month, else nothing; with a
  `markup`, round(line cost × (1 + markup %)) over all its lines of the month, adjustments
  included (late usage is passed on with the markup). Credit notes do not change revenue: they
  are the vendor's money back to the MSP, not a change to what the MSP charged its client.
  A (client, product) without any price is *unpriced*: no revenue, and the row says so.
- **Margin** = revenue − cost; **margin %** = margin / revenue × 100 (none without revenue).

Every amount is rounded by `core.money`: a markup's revenue once per (client, product), the
percentages by `ratio_pct`; totals are sums of rounded figures.
"""

from __future__ import annotations

import bisect
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from core.money import ZERO, percent_of, ratio_pct

from .enums import ResalePriceKind


@dataclass(frozen=True)
class PriceRule:
    product_id: int
    client_id: int | None
    effective_from: datetime.date
    kind: str
    fixed_price: Decimal | None
    markup_pct: Decimal | None


class PriceBook:
    """The partner's resale prices with their history: `rule_for` answers which one applies."""

    def __init__(self, rules: Iterable[PriceRule]) -> None:
        by_key: dict[tuple[int, int | None], list[PriceRule]] = defaultdict(list)
        for rule in rules:
            by_key[(rule.product_id, rule.client_id)].append(rule)
        self._rules = {
            key: sorted(found, key=lambda r: r.effective_from) for key, found in by_key.items()
        }
        self._months = {
            key: [r.effective_from for r in found] for key, found in self._rules.items()
        }

    def __bool__(self) -> bool:
        return bool(self._rules)

    def _latest(self, key: tuple[int, int | None], month: datetime.date) -> PriceRule | None:
        months = self._months.get(key)
        if not months:
            return None
        index = bisect.bisect_right(months, month)
        return self._rules[key][index - 1] if index else None

    def product_rule(self, product_id: int, month: datetime.date) -> PriceRule | None:
        """The product's price for every client in effect that month."""
        return self._latest((product_id, None), month)

    def rule_for(self, product_id: int, client_id: int, month: datetime.date) -> PriceRule | None:
        """The client's override in effect that month, unless it says "inherit"; else the
        product's price in effect that month; else None (unpriced)."""
        override = self._latest((product_id, client_id), month)
        if override is not None and override.kind != ResalePriceKind.INHERIT:
            return override
        return self._latest((product_id, None), month)


def resale_revenue(rule: PriceRule, *, cost: Decimal, billed: bool, currency: str) -> Decimal:
    """What `rule` earns on one (client, product) of a month: see the module docstring."""
    if rule.kind == ResalePriceKind.FIXED:
        return rule.fixed_price if billed else ZERO  # type: ignore[return-value]
    if rule.kind == ResalePriceKind.MARKUP:
        return cost + percent_of(cost, rule.markup_pct, currency)  # type: ignore[arg-type]
    raise ValueError(f"A {rule.kind!r} rule prices nothing: resolve it with PriceBook.rule_for.")


@dataclass(frozen=True)
class Usage:
    """One (client, product) of a month, from the invoice lines: Σ net (adjustments included)
    and whether any regular (non-adjustment) line was billed. `product_id` None: lines whose
    meter and price plan name no product."""

    client_id: int
    product_id: int | None
    product_name: str
    cost: Decimal
    billed: bool


@dataclass(frozen=True)
class Credit:
    """Credit notes issued in the month on one (client, product) — `client_id` None for credits
    of a whole invoice."""

    client_id: int | None
    product_id: int | None
    amount: Decimal


@dataclass(frozen=True)
class ClientInfo:
    name: str
    external_id: str


@dataclass
class Figures:
    vendor_cost: Decimal = ZERO
    resale_revenue: Decimal = ZERO

    @property
    def margin(self) -> Decimal:
        return self.resale_revenue - self.vendor_cost

    @property
    def margin_pct(self) -> Decimal | None:
        return ratio_pct(self.margin, self.resale_revenue)


@dataclass
class ClientMargin(Figures):
    client_id: int = 0
    name: str = ""
    external_id: str = ""
    credited: Decimal = ZERO
    unpriced: list[str] = field(default_factory=list)  # product names without a resale price


@dataclass
class MonthMargin:
    month: datetime.date
    currency: str
    clients: list[ClientMargin]
    unallocated_credits: Decimal  # credits of whole invoices, already deducted in `total`
    total: Figures

    @property
    def credited(self) -> Decimal:
        """Every credit issued in the month, on clients' lines and on whole invoices."""
        return sum((row.credited for row in self.clients), self.unallocated_credits)

    @property
    def unpriced_count(self) -> int:
        return sum(len(row.unpriced) for row in self.clients)


NO_PRODUCT = "Lines without a product"


def month_margin(
    *,
    month: datetime.date,
    currency: str,
    usage: Iterable[Usage],
    credits: Iterable[Credit],
    clients: dict[int, ClientInfo],
    prices: PriceBook,
) -> MonthMargin:
    """The per-client margin of one month, clients by name; the total adds every client row
    and deducts the credits not tied to a client."""
    rows: dict[int, ClientMargin] = {}

    def row(client_id: int) -> ClientMargin:
        if client_id not in rows:
            info = clients.get(client_id, ClientInfo(name=f"Client {client_id}", external_id=""))
            rows[client_id] = ClientMargin(
                client_id=client_id, name=info.name, external_id=info.external_id
            )
        return rows[client_id]

    for item in usage:
        target = row(item.client_id)
        target.vendor_cost += item.cost
        rule = (
            prices.rule_for(item.product_id, item.client_id, month)
            if item.product_id is not None
            else None
        )
        if rule is None:
            target.unpriced.append(item.product_name or NO_PRODUCT)
            continue
        target.resale_revenue += resale_revenue(
            rule, cost=item.cost, billed=item.billed, currency=currency
        )
    unallocated = ZERO
    for credit in credits:
        if credit.client_id is None:
            unallocated += credit.amount
            continue
        target = row(credit.client_id)
        target.vendor_cost -= credit.amount
        target.credited += credit.amount
    ordered = sorted(rows.values(), key=lambda r: (r.name.casefold(), r.client_id))
    for item in ordered:
        item.unpriced.sort(key=str.casefold)
    total = Figures(
        vendor_cost=sum((r.vendor_cost for r in ordered), ZERO) - unallocated,
        resale_revenue=sum((r.resale_revenue for r in ordered), ZERO),
    )
    return MonthMargin(
        month=month,
        currency=currency,
        clients=ordered,
        unallocated_credits=unallocated,
        total=total,
    )
