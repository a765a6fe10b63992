"""The demo vendor's money out: a commission plan and a growth bonus rule from the first demo
month, commission accrued from the two finalized months' invoice lines, the first month's
statements approved and paid out (as credits on the second month's invoices), the second
month's statements waiting for finance; and Northwind IT's resale prices for its margin view.

Called by demo/billing.py around each month it finalizes (`demo_incentives_setup` before the
first, `demo_after_finalize` after each), in the vendor's tenant context and the seed's
transaction. The accrual and payout jobs that finalize and approval queue for Celery are run
here directly, so the demo does not wait for a worker; run again later, they find nothing new.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from billing.models import BillingPeriod, Product
from core.actors import Actor
from incentives.models import CommissionBasis, Payout, PayoutStatus, Statement, StatementStatus
from incentives.services.accrual import period_accrue
from incentives.services.payouts import payout_execute
from incentives.services.plans import commission_plan_create, growth_bonus_rule_create
from incentives.services.statements import statements_approve
from partners.models import Client, Partner
from reporting.services.resale_prices import resale_price_set

from .program import NORTHWIND

BACKUP_PRODUCT = "acme-backup"
ENDPOINT_PRODUCT = "acme-endpoint"


def demo_incentives_setup(*, actor: Actor, first_month: datetime.date) -> None:
    """The commission plan (tier rates from the tiers' benefits, backup at 12 %, × 1.25 from
    EUR 2,000 MRR, payouts from EUR 25) and the growth bonus rule, from `first_month`."""
    backup = Product.objects.get(code=BACKUP_PRODUCT)
    commission_plan_create(
        name="MSP commission 2026",
        basis=CommissionBasis.BILLED,
        effective_from=first_month,
        actor=actor,
        minimum_payout=Decimal("25.00"),
        product_rates={backup.pk: Decimal("12")},
        accelerators=[(Decimal("2000"), Decimal("1.25"))],
    )
    growth_bonus_rule_create(
        name="Growth bonus 2026",
        effective_from=first_month,
        currency="EUR",
        actor=actor,
        new_client_months=2,
        new_client_bonus=Decimal("40.00"),
        bands=[(Decimal("5"), Decimal("5")), (Decimal("15"), Decimal("8"))],
    )


def demo_after_finalize(*, month: datetime.date, actor: Actor, approve: bool) -> None:
    """Accrue the finalized `month`; with `approve`, approve its statements and run their
    payout jobs (invoice credits wait for the next finalize)."""
    period = BillingPeriod.objects.get(month=month)
    period_accrue(period_id=period.pk, actor=actor)
    if not approve:
        return
    drafts = Statement.objects.filter(month=month, status=StatementStatus.DRAFT)
    statements_approve(statement_ids=list(drafts.values_list("pk", flat=True)), actor=actor)
    for payout_id in Payout.objects.filter(
        statement__month=month, status=PayoutStatus.PENDING
    ).values_list("pk", flat=True):
        payout_execute(payout_id=payout_id)


def demo_resale_prices_ensure(*, actor: Actor, first_month: datetime.date) -> None:
    """Northwind IT resells endpoint protection at cost + 40 % and backup at EUR 45 a client
    and month; its first client (by name) pays EUR 60 for backup from the second month."""
    northwind = Partner.objects.get(name=NORTHWIND)
    endpoint = Product.objects.get(code=ENDPOINT_PRODUCT)
    backup = Product.objects.get(code=BACKUP_PRODUCT)
    resale_price_set(
        partner=northwind,
        product=endpoint,
        effective_from=first_month,
        kind="markup",
        markup_pct=Decimal("40"),
        actor=actor,
    )
    resale_price_set(
        partner=northwind,
        product=backup,
        effective_from=first_month,
        kind="fixed",
        fixed_price=Decimal("45.00"),
        actor=actor,
    )
    first_client = Client.objects.filter(partner=northwind).order_by("name").first()
    if first_client is not None:
        second = (first_month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
        resale_price_set(
            partner=northwind,
            product=backup,
            client=first_client,
            effective_from=second,
            kind="fixed",
            fixed_price=Decimal("60.00"),
            actor=actor,
        )
