"""What each partner role may do in the portal and through partner API keys."""

from __future__ import annotations

from enum import StrEnum

from accounts.enums import PartnerRole


class Capability(StrEnum):
    VIEW = "view"  # every page that only reads
    MANAGE_CLIENTS = "manage_clients"  # clients, their imports, subscriptions and usage
    MANAGE_BILLING = "manage_billing"  # billing profile, invoices, payment methods
    MANAGE_TEAM = "manage_team"  # the partner's users and API keys
    SIGN_AGREEMENT = "sign_agreement"  # accept the program agreement on the partner's behalf


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    PartnerRole.OWNER: frozenset(Capability),
    PartnerRole.BILLING: frozenset({Capability.VIEW, Capability.MANAGE_BILLING}),
    PartnerRole.TECHNICIAN: frozenset({Capability.VIEW, Capability.MANAGE_CLIENTS}),
    PartnerRole.VIEWER: frozenset({Capability.VIEW}),
}


def role_can(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())
