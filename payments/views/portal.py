"""The portal's Payments pages: the partner's payments (attempts and recorded payments, refunds)
and the payment-method page, where owners and billing users save a card or SEPA bank debit
through a SetupIntent and Stripe.js (card data goes from the browser to Stripe, never to us).

The page asks `payment_method_setup` (POST, JSON) for a SetupIntent's client secret, lets
Stripe.js confirm it, then posts the SetupIntent id back to `payment_method`, which reads it from
Stripe and saves the method (`payments.services.profiles`)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.actors import Actor
from partners.access import portal_view
from partners.permissions import Capability

from .. import stripe_api
from ..errors import PaymentError
from ..selectors import partner_payments, partner_refunds
from ..services.profiles import (
    payment_method_remove,
    payment_method_save,
    profile_for,
    setup_intent_start,
)

PAGE_SIZE = 25


@portal_view(Capability.VIEW)
@require_safe
def payments(request: HttpRequest) -> HttpResponse:
    page = Paginator(partner_payments(request.partner.pk), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "payments/portal/payments.html",
        {
            "page_obj": page,
            "payments": list(page.object_list),
            "refunds": list(partner_refunds(request.partner.pk)[:50]),
            "profile": profile_for(request.partner),
            "stripe_on": stripe_api.configured(),
        },
    )


@portal_view(Capability.MANAGE_BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def payment_method(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            profile = payment_method_save(
                partner=request.partner,
                setup_intent_id=request.POST.get("setup_intent", ""),
                actor=Actor.from_request(request),
            )
        except PaymentError as exc:
            error = str(exc)
        else:
            messages.success(
                request,
                f"Saved: {profile.method_label} is charged for your invoices from now on.",
            )
            return redirect("portal:payment_method")
    return render(
        request,
        "payments/portal/payment_method.html",
        {
            "profile": profile_for(request.partner),
            "stripe_on": stripe_api.configured() and bool(settings.STRIPE_PUBLISHABLE_KEY),
            "stripe_js_url": settings.STRIPE_JS_URL,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "error": error,
        },
        status=400 if error else 200,
    )


@portal_view(Capability.MANAGE_BILLING)
@require_POST
def payment_method_setup(request: HttpRequest) -> JsonResponse:
    """A SetupIntent for the partner's Stripe customer (created the first time)."""
    if not stripe_api.configured():
        return JsonResponse(
            {"error": "Payments by card or bank debit are not available."}, status=409
        )
    try:
        started = setup_intent_start(partner=request.partner, actor=Actor.from_request(request))
    except stripe_api.StripeError:
        return JsonResponse({"error": "Stripe could not be reached: try again."}, status=502)
    return JsonResponse({"client_secret": started.client_secret, "id": started.setup_intent_id})


@portal_view(Capability.MANAGE_BILLING)
@require_POST
def payment_method_remove_view(request: HttpRequest) -> HttpResponse:
    payment_method_remove(partner=request.partner, actor=Actor.from_request(request))
    messages.success(request, "Removed: your invoices wait for a bank transfer from now on.")
    return redirect("portal:payment_method")
