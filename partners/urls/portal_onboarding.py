"""portal_onboarding pages of the partners app (a plain pattern list, merged by msp_program)."""

from django.urls import path

from partners.views import portal_onboarding

urlpatterns: list = [
    path("onboarding/", portal_onboarding.onboarding, name="onboarding"),
    path("billing-profile/", portal_onboarding.billing_profile, name="billing_profile"),
]
