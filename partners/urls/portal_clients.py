"""portal_clients pages of the partners app (a plain pattern list, merged by msp_program): the
MSP's clients (list, export, import, one client) and its team and API keys."""

from django.urls import path

from partners.views import portal_clients as clients
from partners.views import portal_team as team

urlpatterns: list = [
    path("clients/", clients.client_list, name="clients"),
    path("clients/new/", clients.client_create_view, name="client_create"),
    path("clients/export.csv", clients.client_export, name="clients_export"),
    path("clients/import/", clients.client_import, name="clients_import"),
    path("clients/import/preview/", clients.client_import_preview, name="clients_import_preview"),
    path("clients/import/cancel/", clients.client_import_cancel, name="clients_import_cancel"),
    path(
        "clients/import/template.csv",
        clients.client_import_template,
        name="clients_import_template",
    ),
    path("clients/<int:pk>/", clients.client_detail, name="client_detail"),
    path("clients/<int:pk>/edit/", clients.client_edit, name="client_edit"),
    path("clients/<int:pk>/status/", clients.client_status, name="client_status"),
    path("clients/<int:pk>/churn/", clients.client_churn, name="client_churn"),
    path("team/", team.team, name="team"),
    path("team/invite/", team.team_invite, name="team_invite"),
    path("team/members/<int:pk>/role/", team.team_member_role, name="team_member_role"),
    path(
        "team/members/<int:pk>/deactivate/",
        team.team_member_deactivate,
        name="team_member_deactivate",
    ),
    path(
        "team/members/<int:pk>/reactivate/",
        team.team_member_reactivate,
        name="team_member_reactivate",
    ),
    path(
        "team/invitations/<int:pk>/revoke/",
        team.team_invitation_revoke,
        name="team_invitation_revoke",
    ),
    path("team/api-keys/new/", team.team_api_key_create, name="team_api_key_create"),
    path("team/api-keys/<int:pk>/revoke/", team.team_api_key_revoke, name="team_api_key_revoke"),
]
