from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse


@login_required
def home(request):
    """Send people where they work: vendor staff to the console, partner users to the portal."""
    return redirect("console:home" if request.user.is_console_user else "portal:home")


def home_url(request) -> str:
    """Where to land after signing in. The platform host has no console or portal: operators go
    to the vendor list, anyone else to the landing page."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            return reverse("operator:vendor_list")
        return reverse("landing:landing")
    return reverse("root:home")
