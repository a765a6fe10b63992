"""Console pages of the accounts app, mounted in the `console` namespace."""

from django.urls import path

from .views import console_api_keys, console_security, console_users

urlpatterns: list = [
    path("users/", console_users.users, name="users"),
    path("users/invite/", console_users.user_invite, name="user_invite"),
    path("users/<int:pk>/", console_users.user_edit, name="user_edit"),
    path(
        "users/<int:pk>/deactivate/",
        console_users.user_deactivate_view,
        name="user_deactivate",
    ),
    path(
        "users/<int:pk>/reactivate/",
        console_users.user_reactivate_view,
        name="user_reactivate",
    ),
    path(
        "users/<int:pk>/reset-two-factor/",
        console_users.user_two_factor_reset_view,
        name="user_two_factor_reset",
    ),
    path(
        "invitations/<int:pk>/revoke/",
        console_users.invitation_revoke_view,
        name="invitation_revoke",
    ),
    path("api-keys/", console_api_keys.api_keys, name="api_keys"),
    path(
        "api-keys/<int:pk>/revoke/",
        console_api_keys.api_key_revoke_view,
        name="api_key_revoke",
    ),
    path("settings/security/", console_security.security, name="security"),
]
