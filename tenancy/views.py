from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from .models import PUBLIC_SCHEMA, Vendor


def landing(request):
    return render(request, "public/landing.html")


@staff_member_required(login_url="accounts:login")
def vendor_list(request):
    vendors = Vendor.objects.exclude(schema_name=PUBLIC_SCHEMA).prefetch_related("domains")
    return render(request, "operator/vendor_list.html", {"vendors": vendors})
