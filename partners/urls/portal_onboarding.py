"""portal_onboarding pages of the partners app (a plain pattern list, merged by msp_program)."""

urlpatterns: list = []
