"""Users, invitations and API keys. These tables exist in every vendor's schema (and in the public
schema for platform operators), so a user of one vendor does not exist for another."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from .enums import ApiKeyScope, PartnerRole, VendorRole


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    # Console access: vendor staff have a vendor role; partner users have none.
    vendor_role = models.CharField(max_length=32, choices=VendorRole.choices, blank=True)
    # In the public schema: a platform operator.
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def is_console_user(self) -> bool:
        return bool(self.vendor_role)

    def has_vendor_role(self, *roles: str) -> bool:
        """Admins can do everything in the console; others need one of `roles`."""
        return self.vendor_role == VendorRole.ADMIN or (bool(roles) and self.vendor_role in roles)


class Invitation(models.Model):
    """An emailed link that lets someone set a password and join with a role."""

    email = models.EmailField()
    vendor_role = models.CharField(max_length=32, choices=VendorRole.choices, blank=True)
    # Portal invitations carry a partner role; the partner itself is linked by the partners app.
    partner_role = models.CharField(max_length=32, choices=PartnerRole.choices, blank=True)
    partner_id = models.BigIntegerField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one open invitation per address: a double-submitted invite form cannot
            # send two live links. Expired ones are closed (revoked) before a new one is made.
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class ApiKey(models.Model):
    """A Bearer key. Only its SHA-256 is stored; the key itself is shown once at creation."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=16, choices=ApiKeyScope.choices, default=ApiKeyScope.VENDOR)
    # Partner-scoped keys see one partner's data only; the partners app resolves this id.
    partner_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    is_api_key = True  # lets request.auth be told apart from other auth objects

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope=ApiKeyScope.VENDOR, partner_id__isnull=True)
                    | models.Q(scope=ApiKeyScope.PARTNER, partner_id__isnull=False)
                ),
                name="api_key_scope_matches_partner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
