"""console_catalog pages of the billing app (a plain pattern list, merged by msp_program)."""

urlpatterns: list = []
