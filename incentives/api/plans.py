"""/api/v1/commission-plans/ and growth-bonus-rules/ — vendor configuration, thin views over
incentives.services.plans.

Only vendor keys may read or create them (a plan is the vendor's configuration, not a partner's
data): a partner key lists nothing, gets 404 for a plan and 403 for a create. Plans are never
edited, so there is no PATCH: a change is a new plan from a later month. Errors name the field
path (`tier_rates[0].rate_pct`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.response import Response

from billing.api.serializers import MonthField
from billing.models import Product
from core.actors import Actor
from core.api.inputs import StrictInputSerializer
from core.api.pagination import CursorPagination
from core.api.views import ApiViewSet
from partners.api.views import field_error, problems
from partners.services.partners import today_for_vendor

from ..errors import IncentivesError
from ..models import CommissionBasis, CommissionPlan, GrowthBonusRule
from ..services.plans import commission_plan_create, growth_bonus_rule_create

__all__ = ["CommissionPlanViewSet", "GrowthBonusRuleViewSet", "register"]

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _rate(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=7, decimal_places=4, help_text=help_text)


# ---- output ----------------------------------------------------------------------------------


class TierRateSerializer(serializers.Serializer):
    tier = serializers.IntegerField(source="tier_id")
    rate_pct = _rate("Percent.")


class ProductRateSerializer(serializers.Serializer):
    product = serializers.CharField(source="product.code", help_text="The product's code.")
    rate_pct = _rate("Percent, whatever the partner's tier.")


class AcceleratorSerializer(serializers.Serializer):
    min_mrr = serializers.DecimalField(max_digits=18, decimal_places=2)
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=3)


class CommissionPlanSerializer(serializers.ModelSerializer):
    effective_from = MonthField()
    tier_rates = TierRateSerializer(many=True)
    product_rates = ProductRateSerializer(many=True)
    accelerators = AcceleratorSerializer(many=True)
    in_force = serializers.SerializerMethodField(
        help_text="The plan that applies to the current month (vendor's time zone)."
    )

    class Meta:
        model = CommissionPlan
        fields = [
            "id",
            "name",
            "basis",
            "effective_from",
            "minimum_payout",
            "tier_rates",
            "product_rates",
            "accelerators",
            "in_force",
            "created_at",
        ]

    def get_in_force(self, plan: CommissionPlan) -> bool:
        return self.context.get("in_force_id") == plan.pk


class GrowthBandSerializer(serializers.Serializer):
    min_growth_pct = _rate("Growth (percent of the baseline) from which the band applies.")
    rate_pct = _rate("Bonus: percent of the growth amount.")


class GrowthBonusRuleSerializer(serializers.ModelSerializer):
    effective_from = MonthField()
    bands = GrowthBandSerializer(many=True)
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = GrowthBonusRule
        fields = [
            "id",
            "name",
            "effective_from",
            "currency",
            "new_client_months",
            "new_client_bonus",
            "bands",
            "in_force",
            "created_at",
        ]

    def get_in_force(self, rule: GrowthBonusRule) -> bool:
        return self.context.get("in_force_id") == rule.pk


# ---- input -----------------------------------------------------------------------------------


class TierRateInput(StrictInputSerializer):
    tier = serializers.IntegerField(help_text="The tier's id.")
    rate_pct = serializers.CharField(help_text='Percent, e.g. "12.5".')


class ProductRateInput(StrictInputSerializer):
    product = serializers.CharField(help_text="The product's code.")
    rate_pct = serializers.CharField(help_text='Percent, e.g. "20".')


class AcceleratorInput(StrictInputSerializer):
    min_mrr = serializers.CharField(help_text='The band starts at this MRR, e.g. "10000.00".')
    multiplier = serializers.CharField(help_text='Multiplies the rates, e.g. "1.25".')


class CommissionPlanCreateSerializer(StrictInputSerializer):
    read_only_names = frozenset({"id", "in_force", "created_at"})
    name = serializers.CharField(max_length=200)
    basis = serializers.ChoiceField(choices=CommissionBasis.choices)
    effective_from = MonthField(help_text="A month that is not finalized yet.")
    minimum_payout = serializers.CharField(required=False, help_text='e.g. "50.00" (default 0).')
    tier_rates = TierRateInput(many=True, required=False)
    product_rates = ProductRateInput(many=True, required=False)
    accelerators = AcceleratorInput(many=True, required=False)


class GrowthBandInput(StrictInputSerializer):
    min_growth_pct = serializers.CharField()
    rate_pct = serializers.CharField()


class GrowthBonusRuleCreateSerializer(StrictInputSerializer):
    read_only_names = frozenset({"id", "in_force", "created_at"})
    name = serializers.CharField(max_length=200)
    effective_from = MonthField(help_text="A month that is not finalized yet.")
    currency = serializers.CharField(help_text="ISO 4217; the new-client bonus's currency.")
    new_client_months = serializers.IntegerField(required=False, min_value=1, max_value=24)
    new_client_bonus = serializers.CharField(required=False, help_text='e.g. "50.00".')
    bands = GrowthBandInput(many=True, required=False)


# ---- views -----------------------------------------------------------------------------------


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    try:
        yield
    except IncentivesError as exc:
        raise field_error(exc.field or "non_field_errors", str(exc)) from exc


class EffectiveFromPagination(CursorPagination):
    ordering = "-effective_from"


class VendorConfigViewSet(ApiViewSet):
    """Vendor keys only, like every vendor-only resource: a partner key's list is empty, a
    detail is 404, and a create is 403."""

    pagination_class = EffectiveFromPagination

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS and self.caller_partner_id() is not None:
            raise exceptions.PermissionDenied(
                "Commission plans and bonus rules are the vendor's configuration: partner keys "
                "cannot change them."
            )

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.caller_partner_id() is not None:
            return queryset.none()
        return queryset

    def get_serializer_context(self):
        month = today_for_vendor().replace(day=1)
        current = (
            self.base_queryset()
            .filter(effective_from__lte=month)
            .order_by("-effective_from")
            .values_list("pk", flat=True)
            .first()
        )
        return {**super().get_serializer_context(), "in_force_id": current}


@extend_schema_view(
    list=extend_schema(
        summary="List commission plans, newest first (vendor keys)",
        responses={200: CommissionPlanSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get a commission plan",
        responses={200: CommissionPlanSerializer, **problems(404)},
    ),
)
class CommissionPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, VendorConfigViewSet):
    serializer_class = CommissionPlanSerializer

    def base_queryset(self):
        return CommissionPlan.objects.prefetch_related(
            "tier_rates", "product_rates__product", "accelerators"
        )

    @extend_schema(
        summary="Create a commission plan from a month (vendor keys only)",
        description=(
            "The plan applies from `effective_from` until the next plan's month. Tiers without a "
            "rate earn their own commission benefit; `product_rates` override the rate whatever "
            "the tier; the highest accelerator band reached by the partner's MRR of the month "
            "multiplies the rates. Plans are never edited: a change is a new plan."
        ),
        request=CommissionPlanCreateSerializer,
        responses={201: CommissionPlanSerializer, **problems(400, 403)},
    )
    def create(self, request):
        incoming = CommissionPlanCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        codes = [item["product"] for item in data.get("product_rates", [])]
        products = dict(Product.objects.filter(code__in=codes).values_list("code", "pk"))
        for index, code in enumerate(codes):
            if code not in products:
                raise field_error(f"product_rates[{index}].product", f"There is no product {code}.")
        tier_rates = {}
        for index, item in enumerate(data.get("tier_rates", [])):
            if item["tier"] in tier_rates:
                raise field_error(f"tier_rates[{index}].tier", "Each tier once.")
            tier_rates[item["tier"]] = item["rate_pct"]
        product_rates = {}
        for index, item in enumerate(data.get("product_rates", [])):
            if products[item["product"]] in product_rates:
                raise field_error(f"product_rates[{index}].product", "Each product once.")
            product_rates[products[item["product"]]] = item["rate_pct"]
        with service_errors():
            plan = commission_plan_create(
                actor=Actor.from_request(request),
                name=data["name"],
                basis=data["basis"],
                effective_from=data["effective_from"],
                minimum_payout=data.get("minimum_payout", "0"),
                tier_rates=tier_rates,
                product_rates=product_rates,
                accelerators=[
                    (item["min_mrr"], item["multiplier"]) for item in data.get("accelerators", [])
                ],
            )
        plan = self.base_queryset().get(pk=plan.pk)
        return Response(
            CommissionPlanSerializer(plan, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema_view(
    list=extend_schema(
        summary="List growth bonus rules, newest first (vendor keys)",
        responses={200: GrowthBonusRuleSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Get a growth bonus rule",
        responses={200: GrowthBonusRuleSerializer, **problems(404)},
    ),
)
class GrowthBonusRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, VendorConfigViewSet):
    serializer_class = GrowthBonusRuleSerializer

    def base_queryset(self):
        return GrowthBonusRule.objects.prefetch_related("bands")

    @extend_schema(
        summary="Create a growth bonus rule from a month (vendor keys only)",
        description=(
            "Growth = MRR of the month − the churn-adjusted baseline (the average MRR of the "
            "three months before, without clients that had churned by then); the highest band "
            "reached by growth % pays `rate_pct` of the growth, for growth-bonus-eligible tiers. "
            "A client billed `new_client_months` months in a row from its first billed month "
            "earns `new_client_bonus` once (partners billed in `currency`)."
        ),
        request=GrowthBonusRuleCreateSerializer,
        responses={201: GrowthBonusRuleSerializer, **problems(400, 403)},
    )
    def create(self, request):
        incoming = GrowthBonusRuleCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        with service_errors():
            rule = growth_bonus_rule_create(
                actor=Actor.from_request(request),
                name=data["name"],
                effective_from=data["effective_from"],
                currency=data["currency"],
                new_client_months=data.get("new_client_months", 3),
                new_client_bonus=data.get("new_client_bonus", "0"),
                bands=[(b["min_growth_pct"], b["rate_pct"]) for b in data.get("bands", [])],
            )
        rule = self.base_queryset().get(pk=rule.pk)
        return Response(
            GrowthBonusRuleSerializer(rule, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


def register(router) -> None:
    router.register("commission-plans", CommissionPlanViewSet, basename="commission-plan")
    router.register("growth-bonus-rules", GrowthBonusRuleViewSet, basename="growth-bonus-rule")
