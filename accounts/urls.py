"""/accounts/ on every host (vendor hosts and the platform host)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import auth, two_factor
from .views.account import account
from .views.invitations import invitation_accept

app_name = "accounts"
urlpatterns = [
    path("login/", auth.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("invitations/<str:token>/", invitation_accept, name="invitation_accept"),
    path("two-factor/setup/", two_factor.two_factor_setup, name="two_factor_setup"),
    path("two-factor/verify/", auth.two_factor_verify, name="two_factor_verify"),
    path("two-factor/disable/", two_factor.two_factor_disable_view, name="two_factor_disable"),
    path("me/", account, name="account"),
]
