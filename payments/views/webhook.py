"""POST /stripe/webhook/ on each vendor's host: Stripe's events for that vendor.

The signature (`Stripe-Signature`, HMAC of the timestamp and body with STRIPE_WEBHOOK_SECRET) is
verified by the Stripe SDK, which also refuses timestamps older than STRIPE_WEBHOOK_TOLERANCE
seconds (replays): both answer 400 and change nothing, as does a body that is not a JSON object
or a signed event not shaped like Stripe's. A verified event is applied once
(`payments.services.webhooks`); duplicates answer 200 so that Stripe stops resending them.
"""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .. import stripe_api
from ..services.webhooks import MalformedEvent, stripe_event_apply

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    if not settings.STRIPE_WEBHOOK_SECRET:
        return JsonResponse({"error": "Stripe webhooks are not configured."}, status=400)
    signature = request.headers.get("Stripe-Signature", "")
    try:
        event = stripe_api.construct_event(request.body, signature)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        logger.warning("stripe webhook refused", extra={"reason": str(exc)[:200]})
        return JsonResponse({"error": "Invalid signature or payload."}, status=400)
    try:
        outcome = stripe_event_apply(event=event)
    except MalformedEvent as exc:
        logger.warning("stripe webhook malformed", extra={"reason": str(exc)})
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"received": True, "outcome": outcome})
