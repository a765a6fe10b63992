from __future__ import annotations

from decimal import Decimal

from billing.rating.charge_models.base import ChargeModel
from billing.rating.types import ChargeModelKind, ChargeSpec, TierAmount


class Package(ChargeModel):
    """package_price per started block of package_size units: 0 units → 0 blocks, 1..N → 1,
    N+1 (or N + 0.5) → 2."""

    kind = ChargeModelKind.PACKAGE
    uses = frozenset({"package_size", "package_price"})

    def exact_amount(
        self, quantity: Decimal, charge: ChargeSpec
    ) -> tuple[Decimal, tuple[TierAmount, ...]]:
        assert charge.package_size is not None and charge.package_price is not None
        size = Decimal(charge.package_size)
        # Decimal // and % are exact (unlike /), so the block count is exact for any quantity.
        blocks = quantity // size + (1 if quantity % size else 0)
        return blocks * charge.package_price, ()
