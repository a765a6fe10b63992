"""Console pages of the program (programs, tracks, tiers), partners' tiers and agreements
(a plain pattern list, merged into the `console` namespace by msp_program)."""

from django.urls import path

from partners.views import console_agreements as agreements
from partners.views import console_program as program

urlpatterns: list = [
    path("program/", program.program, name="program"),
    path("program/new/", program.program_create, name="program_create"),
    path("program/<int:pk>/edit/", program.program_edit, name="program_edit"),
    path("program/evaluate/", program.evaluate_all, name="program_evaluate"),
    path(
        "program/<int:program_pk>/tracks/new/",
        program.track_create,
        name="program_track_create",
    ),
    path("program/tracks/<int:pk>/", program.track_detail, name="program_track"),
    path("program/tracks/<int:pk>/edit/", program.track_edit, name="program_track_edit"),
    path("program/tracks/<int:pk>/tiers/new/", program.tier_create, name="program_tier_create"),
    path("program/tiers/<int:pk>/edit/", program.tier_edit, name="program_tier_edit"),
    path("program/tiers/<int:pk>/move/", program.tier_move, name="program_tier_move"),
    path("program/tiers/<int:pk>/delete/", program.tier_delete, name="program_tier_delete"),
    # A partner's tier: the panel's own page and its actions.
    path("partners/<int:pk>/tier/", program.partner_tier, name="partner_tier"),
    path(
        "partners/<int:pk>/tier/evaluate/",
        program.partner_tier_evaluate,
        name="partner_tier_evaluate",
    ),
    path("partners/<int:pk>/tier/pin/", program.partner_tier_pin, name="partner_tier_pin"),
    path("partners/<int:pk>/tier/unpin/", program.partner_tier_unpin, name="partner_tier_unpin"),
    # Agreements
    path("agreements/", agreements.agreements, name="agreements"),
    path("agreements/tracks/<int:track_pk>/", agreements.agreement_track, name="agreement_track"),
    path(
        "agreements/tracks/<int:track_pk>/publish/",
        agreements.agreement_publish_view,
        name="agreement_publish",
    ),
    path("agreements/versions/<int:pk>/", agreements.agreement_version, name="agreement_version"),
    path(
        "agreements/acceptances/<int:pk>/print/",
        agreements.acceptance_print,
        name="agreement_acceptance_print",
    ),
]
