"""Console pages for outbound webhooks: the endpoints, their delivery logs (HTMX-filtered by
status) and the admin actions — create, edit, disable/enable, delete, show and rotate the secret,
send a test event, retry a delivery now.

Admins manage; analysts and finance read. A secret is shown in the answer to a POST (with
no-store), never in a page that could be cached or prefetched.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.enums import VendorRole
from accounts.permissions import vendor_admin_required, vendor_role_required
from core.actors import Actor

from ..errors import WebhookError
from ..forms import DeliveryFilterForm, EndpointForm
from ..models import WebhookDelivery, WebhookEndpoint
from ..selectors import delivery_attempts, endpoint_deliveries, endpoints_list
from ..services.deliveries import delivery_retry_now
from ..services.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_set_active,
    webhook_endpoint_update,
)
from ..services.events import webhook_test_event_send

PAGE_SIZE = 25

webhook_reader_required = vendor_role_required(
    VendorRole.ANALYST,
    VendorRole.FINANCE,
    message="Only admins, analysts and finance can see webhooks.",
)


def _is_admin(request: HttpRequest) -> bool:
    return request.user.has_vendor_role()


def _endpoint_or_404(pk: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=pk)


def _secret_page(
    request: HttpRequest, endpoint: WebhookEndpoint, heading: str, status: int = 200
) -> HttpResponse:
    context = {"endpoint": endpoint, "heading": heading}
    return render(request, "webhooks/console/secret.html", context, status=status)


# --- endpoints ---------------------------------------------------------------------------------


@webhook_reader_required
@require_safe
def webhooks(request: HttpRequest) -> HttpResponse:
    context = {"endpoints": list(endpoints_list()), "can_manage": _is_admin(request)}
    return render(request, "webhooks/console/list.html", context)


@never_cache
@vendor_admin_required
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = webhook_endpoint_create(
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                actor=Actor.from_request(request),
                created_by=request.user,
            )
        except WebhookError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            return _secret_page(request, endpoint, "Endpoint created", status=201)
    return render(request, "webhooks/console/form.html", {"form": form, "endpoint": None})


@vendor_admin_required
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoint_update(
                endpoint=endpoint, actor=Actor.from_request(request), **form.cleaned_data
            )
        except WebhookError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, "The endpoint is saved.")
            return redirect("console:webhook_detail", pk=endpoint.pk)
    return render(request, "webhooks/console/form.html", {"form": form, "endpoint": endpoint})


@webhook_reader_required
@require_safe
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    form = DeliveryFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else None
    page = Paginator(endpoint_deliveries(endpoint, status or None), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "endpoint": endpoint,
        "form": form,
        "page_obj": page,
        "deliveries": list(page.object_list),
        "is_filtered": bool(status),
        "can_manage": _is_admin(request),
    }
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    template = "webhooks/console/_deliveries.html" if partial else "webhooks/console/detail.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@vendor_admin_required
@require_POST
def webhook_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    active = request.POST.get("active") == "1"
    webhook_endpoint_set_active(endpoint=endpoint, active=active, actor=Actor.from_request(request))
    messages.success(
        request,
        "The endpoint is enabled."
        if active
        else "The endpoint is disabled: no new events are sent to it.",
    )
    return redirect("console:webhook_detail", pk=endpoint.pk)


@vendor_admin_required
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    if request.method == "POST":
        webhook_endpoint_delete(endpoint=endpoint, actor=Actor.from_request(request))
        messages.success(request, f"The endpoint {endpoint.url} is deleted.")
        return redirect("console:webhooks")
    return render(request, "webhooks/console/delete.html", {"endpoint": endpoint})


@never_cache
@vendor_admin_required
@require_POST
def webhook_secret(request: HttpRequest, pk: int) -> HttpResponse:
    return _secret_page(request, _endpoint_or_404(pk), "Signing secret")


@never_cache
@vendor_admin_required
def webhook_rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    if request.method == "POST":
        endpoint = webhook_endpoint_rotate_secret(
            endpoint=endpoint, actor=Actor.from_request(request)
        )
        return _secret_page(request, endpoint, "New signing secret")
    return render(request, "webhooks/console/rotate.html", {"endpoint": endpoint})


@vendor_admin_required
@require_POST
def webhook_send_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint_or_404(pk)
    try:
        delivery = webhook_test_event_send(endpoint=endpoint, actor=Actor.from_request(request))
    except WebhookError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"A test event ({delivery.event.event_id}) is on its way; its delivery appears below.",
        )
    return redirect("console:webhook_detail", pk=endpoint.pk)


# --- deliveries --------------------------------------------------------------------------------


def _delivery_or_404(endpoint_pk: int, pk: int) -> WebhookDelivery:
    return get_object_or_404(
        WebhookDelivery.objects.select_related("event", "endpoint"), pk=pk, endpoint_id=endpoint_pk
    )


@webhook_reader_required
@require_safe
def webhook_delivery(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    delivery = _delivery_or_404(pk, delivery_pk)
    context = {
        "endpoint": delivery.endpoint,
        "delivery": delivery,
        "attempts": delivery_attempts(delivery),
        "can_manage": _is_admin(request),
    }
    return render(request, "webhooks/console/delivery.html", context)


@vendor_admin_required
@require_POST
def webhook_delivery_retry(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    delivery = _delivery_or_404(pk, delivery_pk)
    try:
        delivery_retry_now(delivery=delivery, actor=Actor.from_request(request))
    except WebhookError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Delivery of {delivery.event.event_id} is being retried now.")
    if request.POST.get("next") == "delivery":
        return redirect("console:webhook_delivery", pk=pk, delivery_pk=delivery.pk)
    return redirect("console:webhook_detail", pk=pk)
