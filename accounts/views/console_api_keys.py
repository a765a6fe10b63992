"""Console page for vendor API keys. A new key is shown once, in the answer to the POST that
created it (with no-store), and never again: only its hash is kept."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from accounts.errors import AccountError
from accounts.forms import ApiKeyCreateForm
from accounts.models import ApiKey
from accounts.permissions import vendor_admin_required
from accounts.selectors import api_keys_list
from accounts.services.api_keys import api_key_create, api_key_revoke
from core.actors import Actor


@never_cache
@vendor_admin_required
def api_keys(request):
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_key_create(
                name=form.cleaned_data["name"],
                actor=Actor.from_request(request),
                created_by=request.user,
            )
        except AccountError as exc:
            form.add_error("name", str(exc))
        else:
            context = {"api_key": issued.api_key, "secret": issued.secret}
            return render(request, "accounts/console/api_key_created.html", context, status=201)
    context = {"api_keys": api_keys_list(), "form": form}
    return render(request, "accounts/console/api_keys.html", context)


@vendor_admin_required
def api_key_revoke_view(request, pk: int):
    api_key = get_object_or_404(ApiKey, pk=pk)
    if request.method == "POST":
        try:
            api_key_revoke(api_key=api_key, actor=Actor.from_request(request))
        except AccountError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"The key “{api_key.name}” is revoked.")
        return redirect("console:api_keys")
    return render(request, "accounts/console/api_key_revoke.html", {"api_key": api_key})
