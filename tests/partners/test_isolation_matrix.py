"""The isolation matrix: two partners, A and B, of one vendor. For every portal page and every
API route — found by walking the URL resolver and the API router, so pages added later are
covered without touching this file — A's users and A's API key:

- get 404 for B's objects (detail, edit, status changes, delete-like POSTs), and nothing changes;
- never see B's data in any page, list, export, filter option list or API list;
- cannot attach anything to B (forms and API bodies naming B's ids), and B's rows stay as they
  were (the API answers 400, or 403 where the key may not write at all);
- below the capability a portal page declares (`portal_view(capability)`), get 403 there, and
  nothing changes.

A URL argument is mapped to the kind of object it names through ARGUMENT_KINDS; a new page whose
argument cannot be mapped fails here until a mapping is added.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import pytest
from django.apps import apps
from django.db import models
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.enums import PartnerRole
from accounts.models import ApiKey, Invitation, User
from accounts.services.api_keys import api_key_create
from billing.models import (
    BillingPeriod,
    CreditNote,
    Invoice,
    Meter,
    PricePlan,
    Product,
    Subscription,
    UsageEvent,
    UsageImport,
)
from billing.services.catalog import price_plan_create
from billing.services.credit_notes import credit_note_create
from billing.services.subscriptions import subscription_create
from core.actors import Actor
from core.models import AuditEntry
from core.services.audit import audit_record, snapshot
from incentives.models import (
    CommissionPlan,
    EntryKind,
    GrowthBonusRule,
    LedgerEntry,
    Payout,
    Statement,
)
from incentives.services.ledger import post_entries
from incentives.services.plans import commission_plan_create, growth_bonus_rule_create
from incentives.services.statements import statement_approve
from partners.enums import ClientStatus, OnboardingStepKind, TierChangeKind
from partners.models import (
    AgreementAcceptance,
    AgreementVersion,
    Client,
    OnboardingProgress,
    OnboardingStep,
    Partner,
    PartnerMembership,
    PartnerStatusChange,
    Tier,
    TierChange,
    Track,
)
from partners.permissions import Capability, role_can
from payments.enums import CollectionMethod, PaymentMethodKind
from payments.models import Payment, PaymentProfile
from payments.services.manual import payment_record_manual
from reporting.models import ResalePrice
from reporting.services.resale_prices import resale_price_set
from tests.billing.invoice_fixtures import make_invoice, make_meter
from tests.conftest import host_client
from tests.factories import (
    ClientFactory,
    MembershipFactory,
    PartnerFactory,
    ProgramFactory,
    TierFactory,
    TrackFactory,
)
from webhooks.models import WebhookEndpoint
from webhooks.services.endpoints import webhook_endpoint_create

if TYPE_CHECKING:
    from tests.conftest import TestVendor

pytestmark = pytest.mark.django_db

TENANT_URLCONF = "msp_program.urls_tenants"
ROLES: list[str] = list(PartnerRole.values)

# Which of a partner's objects a portal URL argument names: (URL name prefix, argument name,
# kind); the first matching row wins. Add a row when you add a page with a new kind of argument.
ARGUMENT_KINDS: list[tuple[str, str, str]] = [
    ("subscription", "pk", "subscription"),
    ("usage_import", "pk", "usage_import"),
    ("invoice", "pk", "invoice"),
    ("commission_dispute", "entry_pk", "ledger_entry"),
    ("commission", "pk", "statement"),
    ("client", "pk", "client"),
    ("team_member", "pk", "membership"),
    ("team_invitation", "pk", "invitation"),
    ("team_api_key", "pk", "api_key"),
    ("agreement_print", "pk", "acceptance"),
    ("", "client_id", "client"),
    ("", "client_pk", "client"),
    ("", "member_id", "membership"),
    ("", "membership_id", "membership"),
    ("", "invitation_id", "invitation"),
    ("", "api_key_id", "api_key"),
    ("", "key_id", "api_key"),
    ("", "acceptance_id", "acceptance"),
]
# Portal pages deliberately outside `portal_view` (they show nothing of a partner).
NOT_GATED = {"home"}

# Which of a partner's objects an API resource's detail routes name, by model; program data is
# the same for every caller (partner keys see all of it), so there is nothing of B's to hide.
API_KINDS: dict[type[models.Model], str] = {
    Partner: "partner",
    Client: "client",
    ApiKey: "api_key",
    AuditEntry: "audit_entry",
    UsageEvent: "usage_event",  # write-only (no detail routes): add it to build_side() with one
    Subscription: "subscription",
    Invoice: "invoice",
    CreditNote: "credit_note",
    Payment: "payment",
    ResalePrice: "resale_price",
    # Vendor-only: partner keys never see an endpoint (lists empty, detail 404, create 403).
    WebhookEndpoint: "webhook_endpoint",
    CommissionPlan: "commission_plan",
    GrowthBonusRule: "growth_bonus_rule",
    Statement: "statement",
    Payout: "payout",
}
# The vendor's calendar of billing periods is the same for every caller too.
PROGRAM_DATA: set[type[models.Model]] = {Track, Tier, Meter, PricePlan, BillingPeriod}

# Columns that change just because someone signs in or uses a key.
VOLATILE_COLUMNS = {"accounts.User": {"last_login"}, "accounts.ApiKey": {"last_used_at"}}
# Rows a request may write without changing anything (an API idempotency record).
NOT_STATE = {"core.IdempotencyRecord"}


# --- the URL walk ----------------------------------------------------------------------------


def _arguments(pattern: URLPattern | URLResolver) -> tuple[str, ...]:
    converters = getattr(pattern.pattern, "converters", None)
    if converters is not None:
        return tuple(converters)
    return tuple(pattern.pattern.regex.groupindex)


@dataclass(frozen=True)
class PortalPage:
    name: str  # namespaced, e.g. "portal:client_detail"
    arguments: tuple[str, ...]
    callback: Callable = field(compare=False)

    @property
    def short_name(self) -> str:
        return self.name.split(":", 1)[1]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self.arguments)})" if self.arguments else self.name


def _walk(patterns: list, namespace: str, arguments: tuple[str, ...]) -> Iterator[PortalPage]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner, arguments + _arguments(pattern))
        else:
            if not pattern.name:
                raise AssertionError(
                    f"A portal URL pattern ({pattern.pattern}) has no name; name it so that the "
                    "isolation matrix can reverse it."
                )
            yield PortalPage(
                f"{namespace}:{pattern.name}", arguments + _arguments(pattern), pattern.callback
            )


def portal_pages() -> list[PortalPage]:
    resolver = get_resolver(TENANT_URLCONF)
    portal = [
        p for p in resolver.url_patterns if isinstance(p, URLResolver) and p.namespace == "portal"
    ]
    assert len(portal) == 1, "expected one `portal` namespace in msp_program.urls_tenants"
    return list(_walk(portal[0].url_patterns, "portal", _arguments(portal[0])))


def capability_of(page: PortalPage) -> Capability | None:
    """The capability `portal_view` declared; None only for pages listed in NOT_GATED."""
    capability = getattr(page.callback, "portal_capability", None)
    view_class = getattr(page.callback, "view_class", None)
    if capability is None and view_class is not None:
        capability = getattr(view_class.dispatch, "portal_capability", None)
    if capability is None and page.short_name not in NOT_GATED:
        pytest.fail(
            f"{page} is not behind partners.access.portal_view: wrap the view in "
            "@portal_view(Capability.…) (or, if it shows nothing of a partner, add it to "
            "NOT_GATED in tests/partners/test_isolation_matrix.py)."
        )
    return capability


def argument_kind(page: PortalPage, argument: str) -> str:
    for prefix, name, kind in ARGUMENT_KINDS:
        if argument == name and page.short_name.startswith(prefix):
            return kind
    pytest.fail(
        f"The isolation matrix does not know which object the argument `{argument}` of {page} "
        "names. Add a row (URL name prefix, argument, kind) to ARGUMENT_KINDS in "
        "tests/partners/test_isolation_matrix.py, and the object of that kind to "
        "build_side() if it is a new kind."
    )


@dataclass(frozen=True)
class ApiRoute:
    prefix: str
    url_name: str  # e.g. "api:client-detail"
    detail: bool
    methods: tuple[str, ...]
    viewset: type = field(compare=False)

    def __str__(self) -> str:
        return f"{'/'.join(self.methods).upper()} {self.url_name}"

    @property
    def model(self) -> type[models.Model]:
        return self.viewset().base_queryset().model


def api_routes() -> list[ApiRoute]:
    from msp_program.urls_api import router

    routes = []
    for prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            methods = router.get_method_map(viewset, route.mapping)
            if methods:
                routes.append(
                    ApiRoute(
                        prefix=prefix,
                        url_name=f"api:{route.name.format(basename=basename)}",
                        detail=route.detail,
                        methods=tuple(sorted(methods)),
                        viewset=viewset,
                    )
                )
    return routes


PAGES = portal_pages()
ROUTES = api_routes()


# --- the two partners ------------------------------------------------------------------------


@dataclass
class Side:
    partner: Partner
    users: dict[str, User]
    objects: dict[str, models.Model]
    api_secret: str
    markers: list[str]  # strings only this partner's data contains


def build_side(tv: TestVendor, track: Track, tier: Tier, version: AgreementVersion, tag: str):
    """A partner with a user of every role, clients, an open invitation, an API key, an
    agreement acceptance, lifecycle and tier history, onboarding progress and audit rows.
    `tag` makes every string of it unique (B's strings are looked for in A's answers)."""
    slug = tag.lower()
    partner = PartnerFactory(
        name=f"{tag} Partner Zephyr",
        external_id=f"{tag.upper()}-EXT-7731",
        track=track,
        tier=tier,
        billing_email=f"billing@{slug}-zephyr.example",
        billing_address=f"{tag} Street 9",
    )
    users = {}
    for role in ROLES:
        membership = MembershipFactory(
            partner=partner,
            role=role,
            user__email=f"{role}@{slug}-zephyr.example",
            user__full_name=f"{tag} {role.title()} Person",
        )
        users[role] = membership.user
    clients = [
        ClientFactory(
            partner=partner,
            name=f"{tag} Client Quokka",
            external_id=f"{tag.upper()}-Q-001",
            service_tier=f"{tag} Platinum Marmot",
        ),
        ClientFactory(
            partner=partner,
            name=f"{tag} Client Wombat",
            external_id=f"{tag.upper()}-Q-002",
            status=ClientStatus.TRIAL,
            service_tier=f"{tag} Gold Marmot",
        ),
    ]
    invitation = Invitation.objects.create(
        email=f"invitee@{slug}-zephyr.example",
        partner_role=PartnerRole.VIEWER,
        partner_id=partner.pk,
        token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    issued = api_key_create(
        name=f"{slug}-zephyr-rmm-key", actor=Actor.system("tests"), partner_id=partner.pk
    )
    acceptance = AgreementAcceptance.objects.create(
        partner=partner,
        agreement=version,
        user=users[PartnerRole.OWNER],
        signer_name=f"{tag} Signer Xylophone",
        signer_title=f"{tag} Chief Tapir",
        signer_email=f"owner@{slug}-zephyr.example",
        ip="192.0.2.10",
        content_hash=version.content_hash,
    )
    PartnerStatusChange.objects.create(
        partner=partner,
        from_status="onboarding",
        to_status="active",
        effective_on=datetime.date(2026, 1, 1),
        reason=f"{tag} status reason Narwhal",
        actor_label=f"{slug}-status-actor",
    )
    TierChange.objects.create(
        partner=partner,
        from_tier=None,
        to_tier=tier,
        kind=TierChangeKind.EVALUATION,
        reason=f"{tag} tier reason Kestrel",
        actor_label=f"{slug}-tier-actor",
    )
    step = OnboardingStep.objects.get(track=track, kind=OnboardingStepKind.CUSTOM)
    OnboardingProgress.objects.create(
        partner=partner,
        step=step,
        completed_at=timezone.now(),
        completed_by_label=f"{slug}-signoff-Okapi",
    )
    entry = audit_record(
        actor=Actor.system(f"{slug}-audit-actor"),
        action="client.created",
        instance=clients[0],
        after=snapshot(clients[0]),
    )
    plan = PricePlan.objects.filter(code="matrix-seats").first() or price_plan_create(
        code="matrix-seats",
        name="Matrix Seats",
        currency=partner.currency,
        effective_from=datetime.date(2026, 1, 1),
        charges=[{"seats": True, "model": "per_unit", "unit_price": "3", "counting_rule": "peak"}],
        actor=Actor.system("tests"),
    )
    subscription = subscription_create(
        client=clients[0],
        price_plan=plan,
        quantity=7,
        started_on=clients[0].started_on,
        actor=Actor.system("tests"),
    )
    invoice = make_invoice(
        partner=partner,
        month="2026-09",
        finalized=True,
        number=f"INV-{tag.upper()}-9901",
        lines=[
            {"client": clients[0], "amount": Decimal("21.00"), "quantity": 7},
            {
                "client": clients[0],
                "amount": Decimal("12.50"),
                "meter": make_meter(),
                "description": f"{tag} backup line Pangolin",
            },
        ],
    )
    credit_note = credit_note_create(
        invoice=invoice,
        reason=f"{tag} credit reason Axolotl",
        amount=Decimal("5.00"),
        actor=Actor.system("tests"),
    )
    usage_import = UsageImport.objects.create(
        partner=partner,
        uploaded_by_label=f"owner@{slug}-zephyr.example",
        filename=f"{slug}-usage-Ibex.csv",
        staged_path=f"/nonexistent/{slug}-usage.csv",
    )
    # A saved card (its brand is this partner's marker) and a bank transfer finance recorded.
    PaymentProfile.objects.create(
        partner=partner,
        stripe_customer_id=f"cus_{slug}matrix",
        method=CollectionMethod.STRIPE,
        payment_method_id=f"pm_{slug}matrix",
        payment_method_kind=PaymentMethodKind.CARD,
        brand=f"{tag}card",
        last4="4181",
    )
    payment = payment_record_manual(
        invoice=invoice,
        amount=Decimal("1.00"),
        received_on=datetime.date(2026, 10, 20),
        reference=f"{tag} transfer ref Gecko",
        actor=Actor.system("tests"),
    )
    # A client override of the MSP's resale price: its amount is only this partner's.
    resale_amount = {"Alpha": "1357.11", "Bravo": "8642.17"}[tag]
    resale_price, _ = resale_price_set(
        partner=partner,
        product=Product.objects.get_or_create(code="matrix-backup", defaults={"name": "Backup"})[0],
        client=clients[0],
        effective_from=datetime.date(2026, 1, 1),
        kind="fixed",
        fixed_price=resale_amount,
        actor=Actor.system("tests"),
    )
    # A commission statement with one accrual, approved: its payout (a credit on the next
    # invoice) and its entry are only this partner's. A second, draft month can be disputed.
    commission_amount = {"Alpha": "246.13", "Bravo": "913.57"}[tag]
    entries = [
        LedgerEntry(
            partner_id=partner.pk,
            currency=partner.currency,
            kind=EntryKind.ACCRUAL,
            month=month,
            amount=Decimal(commission_amount),
            basis=Decimal(commission_amount) * 10,
            rate_pct=Decimal("10"),
            description=f"{tag} commission Tapir {month:%Y-%m}",
            source_key=f"matrix:{slug}:{month:%Y-%m}",
            invoice=invoice,
        )
        for month in (datetime.date(2026, 9, 1), datetime.date(2026, 10, 1))
    ]
    post_entries(entries)
    approved = Statement.objects.get(partner=partner, month=datetime.date(2026, 9, 1))
    statement_approve(statement_id=approved.pk, actor=Actor.system("tests"))
    payout = Payout.objects.get(statement=approved)
    statement = Statement.objects.get(partner=partner, month=datetime.date(2026, 10, 1))
    ledger_entry = LedgerEntry.objects.get(source_key=f"matrix:{slug}:2026-10")
    # The membership a URL names is a viewer's: acting on it never locks the owner out.
    objects = {
        "partner": partner,
        "client": clients[0],
        "membership": PartnerMembership.objects.get(user=users[PartnerRole.VIEWER]),
        "invitation": invitation,
        "api_key": issued.api_key,
        "acceptance": acceptance,
        "audit_entry": entry,
        "subscription": subscription,
        "invoice": invoice,
        "credit_note": credit_note,
        "usage_import": usage_import,
        "payment": payment,
        "resale_price": resale_price,
        "statement": statement,
        "payout": payout,
        "ledger_entry": ledger_entry,
        "webhook_endpoint": webhook_endpoint_create(
            url=f"https://{slug}-zephyr.example/hooks",
            description=f"{tag} webhook Capybara",
            event_types=["invoice.paid"],
            actor=Actor.system("tests"),
        ),
        # Vendor configuration (one of each per side, in a month of its own).
        "commission_plan": commission_plan_create(
            name=f"{tag} plan Capybara",
            basis="billed",
            effective_from=datetime.date(2031, 1 if tag == "Alpha" else 2, 1),
            actor=Actor.system("tests"),
        ),
        "growth_bonus_rule": growth_bonus_rule_create(
            name=f"{tag} growth Capybara",
            effective_from=datetime.date(2031, 1 if tag == "Alpha" else 2, 1),
            currency="EUR",
            actor=Actor.system("tests"),
        ),
    }
    markers = [
        partner.name,
        partner.external_id,
        partner.billing_email,
        partner.billing_address,
        *(c.name for c in clients),
        *(c.external_id for c in clients),
        *(c.service_tier for c in clients),
        *(u.email for u in users.values()),
        *(u.full_name for u in users.values()),
        invitation.email,
        issued.api_key.name,
        acceptance.signer_name,
        acceptance.signer_title,
        f"{tag} status reason Narwhal",
        f"{tag} tier reason Kestrel",
        f"{slug}-signoff-Okapi",
        f"{slug}-audit-actor",
        invoice.number,
        credit_note.number,
        f"{tag} backup line Pangolin",
        f"{tag} credit reason Axolotl",
        usage_import.filename,
        f"{tag} transfer ref Gecko",
        f"{tag}card".title(),
        resale_amount,
        f"{Decimal(resale_amount):,}",
        f"{tag} webhook Capybara",
        f"{tag} commission Tapir",
        commission_amount,
    ]
    return Side(partner, users, objects, issued.secret, markers)


@dataclass
class Matrix:
    tv: TestVendor
    a: Side
    b: Side
    _sessions: dict[str, HttpClient] = field(default_factory=dict)

    def login(self, role: str) -> HttpClient:
        """A browser session of A's user with that role."""
        if role not in self._sessions:
            client = host_client(self.tv.host)
            with schema_context(self.tv.schema):
                client.force_login(self.a.users[role])
            self._sessions[role] = client
        return self._sessions[role]

    def api(self) -> HttpClient:
        """A's partner-scoped API key."""
        return host_client(self.tv.host, HTTP_AUTHORIZATION=f"Bearer {self.a.api_secret}")


@pytest.fixture
def matrix(db, vendor_a) -> Matrix:
    with schema_context(vendor_a.schema):
        program = ProgramFactory(name="Matrix Program")
        track = TrackFactory(program=program, name="Matrix Track", slug="matrix")
        tier = TierFactory(track=track, name="Matrix Registered", rank=1)
        TierFactory(track=track, name="Matrix Gold", rank=2, min_active_clients=50)
        OnboardingStep.objects.create(
            track=track, kind=OnboardingStepKind.CUSTOM, title="Kick-off call", position=1
        )
        version = AgreementVersion.objects.create(
            track=track,
            version=1,
            title="Matrix Partner Agreement",
            body_markdown="# Terms\n\nBe excellent.",
            content_hash=hashlib.sha256(b"# Terms\n\nBe excellent.").hexdigest(),
            created_by_label="tests",
        )
        a = build_side(vendor_a, track, tier, version, "Alpha")
        b = build_side(vendor_a, track, tier, version, "Bravo")
    # The two sides' strings never overlap, so a marker of B found in a page is a leak.
    assert not any(m in " ".join(a.markers) for m in b.markers)
    return Matrix(tv=vendor_a, a=a, b=b)


# --- what "nothing changed" means ------------------------------------------------------------


def _state_models() -> list[type[models.Model]]:
    """Every table of the project's apps in the vendor's schema (third-party tables such as
    sessions change on sign-in and hold no partner data)."""
    found = []
    for model in apps.get_models():
        config = model._meta.app_config
        if "site-packages" in config.path or config.label in ("tenancy", "demo"):
            continue
        if model._meta.proxy or not model._meta.managed or model._meta.label in NOT_STATE:
            continue
        found.append(model)
    return found


def _rows(queryset: models.QuerySet) -> list[dict[str, Any]]:
    model = queryset.model
    skip = VOLATILE_COLUMNS.get(model._meta.label, set())
    columns = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
    return list(queryset.order_by("pk").values(*columns))


def everything(m: Matrix) -> dict[str, list[dict[str, Any]]]:
    """Every row of every project table: a denied request changes none of them."""
    with schema_context(m.tv.schema):
        return {model._meta.label: _rows(model.objects.all()) for model in _state_models()}


def _owned_by(model: type[models.Model], partner_id: int) -> models.QuerySet | None:
    names = {f.attname for f in model._meta.concrete_fields}
    if model is Partner:
        return model.objects.filter(pk=partner_id)
    if model is User:
        return model.objects.filter(partner_membership__partner_id=partner_id)
    if "partner_id" in names:
        return model.objects.filter(partner_id=partner_id)
    if "client_id" in names:
        return model.objects.filter(client__partner_id=partner_id)
    if "invoice_id" in names:
        return model.objects.filter(invoice__partner_id=partner_id)
    if "credit_note_id" in names:
        return model.objects.filter(credit_note__invoice__partner_id=partner_id)
    if "statement_id" in names:
        return model.objects.filter(statement__partner_id=partner_id)
    return None


def owned_by_b(m: Matrix) -> dict[str, list[dict[str, Any]]]:
    """B's rows, in every table that belongs to a partner (directly or through a client)."""
    found = {}
    with schema_context(m.tv.schema):
        for model in _state_models():
            queryset = _owned_by(model, m.b.partner.pk)
            if queryset is not None:
                found[model._meta.label] = _rows(queryset)
    return found


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def assert_no_b(m: Matrix, response, where: str, echoed: str = "") -> None:
    """None of B's strings in the answer (except one the request itself sent: `echoed`, which
    a page may repeat, e.g. in "X is not one of the available choices")."""
    text = body_of(response)
    leaked = [marker for marker in m.b.markers if marker in text and marker not in echoed]
    assert not leaked, f"{where} shows partner B's data: {leaked}"


def page_url(m: Matrix, page: PortalPage, side: Side) -> str:
    kwargs = {arg: side.objects[argument_kind(page, arg)].pk for arg in page.arguments}
    return reverse(page.name, kwargs=kwargs, urlconf=TENANT_URLCONF)


def form_naming_b(m: Matrix, status: str = ClientStatus.SUSPENDED) -> dict[str, Any]:
    """A plausible form for any portal page, with every reference pointing at B's objects."""
    b = m.b.objects
    return {
        "partner": b["partner"].pk,
        "partner_id": b["partner"].pk,
        "client": b["client"].pk,
        "client_id": b["client"].pk,
        "member": b["membership"].pk,
        "membership": b["membership"].pk,
        "user": m.b.users[PartnerRole.OWNER].pk,
        "invitation": b["invitation"].pk,
        "api_key": b["api_key"].pk,
        "pk": b["client"].pk,
        "id": b["client"].pk,
        "name": "Attached By Alpha",
        "external_id": "ATTACHED-1",
        "service_tier": "Essentials",
        "status": status,
        "started_on": "2026-01-15",
        "ended_on": "2026-03-31",
        "email": "attached@alpha-zephyr.example",
        "role": PartnerRole.VIEWER,
        "billing_email": "attached-billing@alpha-zephyr.example",
        "billing_address": "Attached Street 1",
        "country": "DE",
        "signer_name": "Attached Signer",
        "signer_title": "Attached Title",
        "accept": "on",
        "confirm": "on",
    }


# Search and filter parameters a list might honour, aimed at B's data. The searched strings are
# parts of B's markers, so a page echoing its search box does not count as a leak.
LEAK_QUERY = "?q=Quokka&search=Q-00&partner={partner}&partner_id={partner}&client={client}"


def leak_queries(m: Matrix) -> list[str]:
    return [
        "",
        LEAK_QUERY.format(partner=m.b.partner.pk, client=m.b.objects["client"].pk),
        "?service_tier=" + m.b.objects["client"].service_tier.replace(" ", "+"),
    ]


# --- the portal ------------------------------------------------------------------------------


def test_the_walk_finds_the_portal_and_the_api():
    names = {page.name for page in PAGES}
    assert "portal:home" in names
    assert {"api:partner-list", "api:client-detail"} <= {route.url_name for route in ROUTES}


def test_the_leak_check_reads_real_answers(matrix):
    """A positive control: A's own clients are in the answers the leak checks read."""
    page = matrix.login(PartnerRole.VIEWER).get(reverse("portal:clients", urlconf=TENANT_URLCONF))
    listed = matrix.api().get("/api/v1/clients/")
    for response in (page, listed):
        assert response.status_code == 200
        text = body_of(response)
        assert "Alpha Client Quokka" in text and "Alpha Client Wombat" in text
        assert_no_b(matrix, response, "control")


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_portal_roles_below_the_page_capability_get_403_and_change_nothing(matrix, page):
    capability = capability_of(page)
    url = page_url(matrix, page, matrix.a)
    for role in ROLES:
        client = matrix.login(role)
        if capability is None or role_can(role, capability):
            response = client.get(url)
            assert response.status_code not in (403, 404), (role, url, response.status_code)
            assert response.status_code < 500, (role, url)
            continue
        before = everything(matrix)
        codes = {
            client.get(url).status_code,
            client.post(url, form_naming_b(matrix)).status_code,
        }
        # A POST-only page may answer a GET with 405 before the gate; the POST meets the gate.
        assert 403 in codes and codes <= {403, 405}, (role, capability, url, codes)
        assert everything(matrix) == before, f"{role} changed something through {url}"


ARGUMENT_PAGES = [page for page in PAGES if page.arguments]


@pytest.mark.parametrize("page", ARGUMENT_PAGES, ids=str)
def test_portal_other_partners_objects_are_404_and_nothing_changes(matrix, page):
    capability = capability_of(page)
    url = page_url(matrix, page, matrix.b)
    allowed = [r for r in ROLES if capability is None or role_can(r, capability)]
    assert allowed
    for role in allowed:
        client = matrix.login(role)
        before = everything(matrix)
        get = client.get(url)
        post = client.post(url, form_naming_b(matrix))
        codes = {get.status_code, post.status_code}
        assert 404 in codes and codes <= {404, 405}, (role, url, codes)
        assert everything(matrix) == before, f"{role} changed B's data through {url}"
        assert_no_b(matrix, get, f"GET {url} as {role}")
        assert_no_b(matrix, post, f"POST {url} as {role}")


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_portal_pages_lists_exports_and_filters_never_show_the_other_partner(matrix, page):
    capability = capability_of(page)
    url = page_url(matrix, page, matrix.a)
    for role in ROLES:
        if capability is not None and not role_can(role, capability):
            continue
        client = matrix.login(role)
        for query in leak_queries(matrix):
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = client.get(url + query, **headers)
                assert response.status_code < 500, (role, url + query)
                where = f"GET {url + query} as {role} {headers}"
                assert_no_b(matrix, response, where, echoed=unquote_plus(query))


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_portal_forms_naming_the_other_partners_objects_never_reach_them(matrix, page):
    """A's owner (every capability) posts to each page — on A's own objects — a form whose
    every reference is one of B's: whatever the page does for A, B's rows stay as they were."""
    capability_of(page)
    url = page_url(matrix, page, matrix.a)
    owner = matrix.login(PartnerRole.OWNER)
    # Two statuses, so that both a create form (active) and a status change (suspended) accept it.
    for status in (ClientStatus.ACTIVE, ClientStatus.SUSPENDED):
        before = owned_by_b(matrix)
        response = owner.post(url, form_naming_b(matrix, status))
        assert response.status_code < 500, url
        assert_no_b(matrix, response, f"POST {url}")
        assert owned_by_b(matrix) == before, f"POST {url} changed or added rows of partner B"


# --- the API ---------------------------------------------------------------------------------


def api_object(m: Matrix, route: ApiRoute, side: Side) -> models.Model | None:
    model = route.model
    if model in PROGRAM_DATA:
        return None
    if model not in API_KINDS:
        pytest.fail(
            f"The isolation matrix does not know whose {model._meta.label} rows "
            f"/api/v1/{route.prefix}/ serves. Add the model to API_KINDS (with the object in "
            "build_side()) or, if it is program data the same for every caller, to PROGRAM_DATA "
            "in tests/partners/test_isolation_matrix.py."
        )
    return side.objects[API_KINDS[model]]


def api_url(route: ApiRoute, obj: models.Model | None) -> str:
    kwargs = {route.viewset.lookup_url_kwarg or route.viewset.lookup_field: obj.pk} if obj else {}
    return reverse(route.url_name, kwargs=kwargs, urlconf=TENANT_URLCONF)


def api_call(client: HttpClient, method: str, url: str, data: dict | None = None):
    if method in ("get", "head", "options"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, data or {}, content_type="application/json")


def bodies_naming_b(m: Matrix) -> list[dict[str, Any]]:
    """Otherwise valid bodies that name B's partner, or one of B's clients."""
    plausible = {
        "name": "Attached By Alpha",
        "external_id": "ATTACHED-1",
        "started_on": "2026-01-15",
    }
    return [
        {**plausible, "partner": m.b.partner.pk},
        {**plausible, "client": m.b.objects["client"].pk},
    ]


LIST_ROUTES = [route for route in ROUTES if not route.detail]
DETAIL_ROUTES = [route for route in ROUTES if route.detail]


@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_api_lists_never_show_the_other_partner(matrix, route):
    if "get" not in route.methods:
        return
    api = matrix.api()
    url = api_url(route, None)
    for query in leak_queries(matrix):
        response = api.get(url + query)
        assert response.status_code in (200, 400), (url + query, response.content)
        assert_no_b(matrix, response, f"GET {url + query}", echoed=unquote_plus(query))
    # Every row a partner key lists is its own (or program data).
    with schema_context(matrix.tv.schema):
        own_clients = set(
            Client.objects.filter(partner=matrix.a.partner).values_list("pk", flat=True)
        )
    for row in api.get(url + "?limit=500").json()["results"]:
        # A report keyed by partner (margin/) lists the partner's clients: no "id" of a partner.
        if route.model is Partner and "id" in row:
            assert row["id"] == matrix.a.partner.pk
        elif "partner" in row:
            assert row["partner"] == matrix.a.partner.pk
        elif "client" in row:
            assert row["client"] in own_clients


@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_api_creates_naming_the_other_partner_are_refused_and_change_nothing(matrix, route):
    if "post" not in route.methods:
        return
    url = api_url(route, None)
    for body in bodies_naming_b(matrix):
        before = everything(matrix)
        response = api_call(matrix.api(), "post", url, body)
        # 400 (a field error: not B's id) or 403 (a partner key may not create these at all);
        # 422: a batch endpoint (usage events) whose every item was refused.
        assert response.status_code in (400, 403, 422), (url, body, response.content)
        assert everything(matrix) == before, f"POST {url} {body} changed something"
        assert_no_b(matrix, response, f"POST {url}")


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_api_other_partners_objects_are_404_and_nothing_changes(matrix, route):
    target = api_object(matrix, route, matrix.b)
    if target is None:  # program data: visible to every key, nothing of B's in it
        return
    url = api_url(route, target)
    api = matrix.api()
    for method in route.methods:
        before = everything(matrix)
        response = api_call(api, method, url, bodies_naming_b(matrix)[0])
        assert response.status_code == 404, (method, url, response.status_code)
        assert everything(matrix) == before, f"{method.upper()} {url} changed something"
        assert_no_b(matrix, response, f"{method.upper()} {url}")


@pytest.mark.parametrize("route", DETAIL_ROUTES, ids=str)
def test_api_changes_naming_the_other_partner_are_refused_and_change_nothing(matrix, route):
    """A's own objects, with B's ids in the body: never attached to B."""
    writes = [m for m in route.methods if m in ("patch", "put", "post")]
    own = api_object(matrix, route, matrix.a)
    if not writes or own is None:
        return
    url = api_url(route, own)
    for method in writes:
        for body in bodies_naming_b(matrix):
            before = everything(matrix)
            response = api_call(matrix.api(), method, url, body)
            # 400: a field error; 403: not writable by a partner key; 404: outside its scope.
            assert response.status_code in (400, 403, 404), (method, url, body, response.content)
            assert everything(matrix) == before, f"{method.upper()} {url} {body} changed something"
            assert_no_b(matrix, response, f"{method.upper()} {url}")


def test_api_a_client_of_a_cannot_be_moved_or_created_under_b(matrix):
    """The two attach attempts of API.md spelled out: exact field errors, B untouched."""
    api = matrix.api()
    before = everything(matrix)
    created = api_call(api, "post", "/api/v1/clients/", bodies_naming_b(matrix)[0])
    moved = api_call(
        api,
        "patch",
        f"/api/v1/clients/{matrix.a.objects['client'].pk}/",
        {"partner": matrix.b.partner.pk},
    )
    assert (created.status_code, moved.status_code) == (400, 400)
    assert created.json()["errors"] == [
        {
            "field": "partner",
            "code": "invalid",
            "message": "A partner key adds clients to its own partner only.",
        }
    ]
    assert moved.json()["errors"] == [
        {
            "field": "partner",
            "code": "invalid",
            "message": "A client cannot move to another partner.",
        }
    ]
    assert everything(matrix) == before


def test_every_url_argument_and_api_model_is_mapped():
    """Fails with a pointer to the mapping to extend when a page or resource is added."""
    for page in PAGES:
        for argument in page.arguments:
            argument_kind(page, argument)
    for route in ROUTES:
        model = route.model
        assert model in API_KINDS or model in PROGRAM_DATA, (
            f"Add {model._meta.label} (served at /api/v1/{route.prefix}/) to API_KINDS or "
            "PROGRAM_DATA in tests/partners/test_isolation_matrix.py."
        )
