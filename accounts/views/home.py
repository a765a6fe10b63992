from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


@login_required
def home(request):
    """Send people where they work: vendor staff to the console, partner users to the portal."""
    return redirect("console:home" if request.user.is_console_user else "portal:home")
