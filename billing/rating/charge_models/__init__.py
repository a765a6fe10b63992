"""Charge models: one class per model; CHARGE_MODELS is the only place that branches on the kind."""

from __future__ import annotations

from decimal import Decimal

from billing.rating.charge_models.base import ChargeModel
from billing.rating.charge_models.flat import Flat
from billing.rating.charge_models.graduated import Graduated
from billing.rating.charge_models.package import Package
from billing.rating.charge_models.per_unit import PerUnit
from billing.rating.charge_models.volume import Volume
from billing.rating.types import ChargeModelKind, ChargeSpec, PricedQuantity

CHARGE_MODELS: dict[ChargeModelKind, type[ChargeModel]] = {
    model.kind: model for model in (PerUnit, Graduated, Volume, Package, Flat)
}


def charge_model(kind: ChargeModelKind | str) -> ChargeModel:
    return CHARGE_MODELS[ChargeModelKind(kind)]()


def price(quantity: Decimal, charge: ChargeSpec) -> PricedQuantity:
    """Price one quantity (one client's, or a pooled total) with the charge's model."""
    return charge_model(charge.model).price(quantity, charge)


__all__ = [
    "CHARGE_MODELS",
    "ChargeModel",
    "Flat",
    "Graduated",
    "Package",
    "PerUnit",
    "Volume",
    "charge_model",
    "price",
]
