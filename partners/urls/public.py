"""public pages of the partners app (a plain pattern list, merged by msp_program)."""

from django.urls import path

from partners.views import public

urlpatterns: list = [
    path("apply/", public.apply, name="apply"),
    path("apply/thanks/", public.apply_thanks, name="apply_thanks"),
]
