"""Settings shared by every environment; everything that differs comes from the environment.

See `.env.example` for the variables and `docs/operations.md` for what they do.
"""

from pathlib import Path
from urllib.parse import unquote

import environ

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-development-key-change-me-0123456789abcdef")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", ".localhost", "127.0.0.1"])

# The host name of the public (platform) site; vendors get their own domains.
PLATFORM_DOMAIN = env("PLATFORM_DOMAIN", default="localhost")

# --- apps -------------------------------------------------------------------------------------
# django-tenants: SHARED_APPS live in the public schema, TENANT_APPS in every vendor's schema.
# accounts/sessions/core are in both: platform operators are users of the public schema, and each
# vendor's users, sessions and audit log live in that vendor's schema only.
SHARED_APPS = [
    "django_tenants",
    "tenancy",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "core",
    "accounts",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "accounts",
    "webhooks",
    "partners",
    "billing",
    "payments",
    "incentives",
    "enablement",
    "reporting",
    "support",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]
INSTALLED_APPS += ["demo"]

TENANT_MODEL = "tenancy.Vendor"
TENANT_DOMAIN_MODEL = "tenancy.Domain"
# New vendors are cloned from this migrated template schema instead of replaying every migration.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Must stay False: SET search_path is transactional in PostgreSQL, so skipping it after a rollback
# would silently query the wrong schema. Our backend sets it once per request instead.
TENANT_LIMIT_SET_CALLS = False
PUBLIC_SCHEMA_URLCONF = "msp_program.urls_public"
ROOT_URLCONF = "msp_program.urls_tenants"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

MIDDLEWARE = [
    "tenancy.middleware.VendorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.api.middleware.ProblemJsonMiddleware",
    "core.api.idempotency.IdempotencyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
            ],
        },
    }
]

WSGI_APPLICATION = "msp_program.wsgi.application"

# --- database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/msp_program")
}
# A unix-socket directory may be given URL-encoded as the host (the embedded server does so).
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST") or "")
DATABASES["default"]["ENGINE"] = "tenancy.db_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: cache and broker ------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Tenant-aware keys: vendor A's and B's entries never collide.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="msp"),
    }
}


def celery_broker_url(redis_url: str) -> str:
    """Kombu spells Redis over a unix socket `redis+socket://`, redis-py `unix://`."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=celery_broker_url(REDIS_URL))
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=celery_broker_url(REDIS_URL))
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = False  # opted into per task, only where the task is idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "root:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Failed logins allowed per (email, client address) within the window before the form locks.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
INVITATION_VALID_DAYS = 7
# Called as hook(invitation=, user=, actor=) inside the acceptance transaction.
INVITATION_ACCEPTED_HOOKS = ["partners.services.memberships.on_invitation_accepted"]
OTP_TOTP_ISSUER = "MSP Program"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="MSP Program <no-reply@localhost>")
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

# --- i18n / static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = BASE_DIR / ".data" / "media"
# Parsed client CSV uploads, kept (signed) between the preview and the import. Under MEDIA_ROOT so
# that every web container sees them (docker-compose mounts one `media` volume on all of them).
CLIENT_IMPORT_DIR = MEDIA_ROOT / "client-imports"
# Usage CSV uploads, staged between the check (preview) and the background import.
USAGE_IMPORT_DIR = MEDIA_ROOT / "usage-imports"
# Month-end close tasks (billing.services.periods): partners per task if set (0: automatic — the
# partners split into at most BILLING_RATING_MAX_CHUNKS tasks of at least 50), and work_mem for
# each task's aggregate queries. Each task reads the month's usage pages once, so one task per
# worker process is fastest: the default follows CELERY_CONCURRENCY (2, as the launcher and
# compose run the worker).
BILLING_RATING_CHUNK_SIZE = env.int("BILLING_RATING_CHUNK_SIZE", default=0)
BILLING_RATING_MAX_CHUNKS = env.int(
    "BILLING_RATING_MAX_CHUNKS", default=env.int("CELERY_CONCURRENCY", default=2)
)
BILLING_RATING_WORK_MEM = env.str("BILLING_RATING_WORK_MEM", default="64MB")

# Commission payouts by Stripe Connect transfer (incentives.services.payouts). Without a key,
# transfer payouts wait for finance to record them by hand. The API base is configurable so tests
# (and air-gapped installs) can point it at a local server.
PAYOUTS_STRIPE_SECRET_KEY = env(
    "PAYOUTS_STRIPE_SECRET_KEY", default=env("STRIPE_SECRET_KEY", default="")
)
STRIPE_CONNECT_API_BASE = env("STRIPE_CONNECT_API_BASE", default="https://api.stripe.com")
# The beat job charges again Stripe attempts still pending this long after they last moved (the
# task was lost, or its retries ran out while Stripe was unreachable: about 4 hours of backoff).
PAYMENT_RESUME_AFTER_MINUTES = env.int("PAYMENT_RESUME_AFTER_MINUTES", default=300)
# The beat job re-runs pending/sending payouts older than this (a run interrupted half way).
PAYOUT_RESUME_AFTER_MINUTES = env.int("PAYOUT_RESUME_AFTER_MINUTES", default=10)
USAGE_IMPORT_MAX_BYTES = env.int("USAGE_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# Files up to this size are checked while the upload request waits; bigger ones by the worker.
USAGE_IMPORT_INLINE_CHECK_BYTES = 2 * 1024 * 1024

# --- outbound webhooks (webhooks app) ----------------------------------------------------------
# Seconds to wait for an endpoint's answer; a slower answer is a failed attempt.
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
# Seconds after each failed attempt before the next one; after the last, the delivery is
# exhausted (1 + len attempts in all). Default: 1 min, 5 min, 30 min, 2 h, 8 h, 24 h.
WEBHOOKS_RETRY_SCHEDULE = [
    int(s) for s in env.list("WEBHOOKS_RETRY_SCHEDULE", default=[60, 300, 1800, 7200, 28800, 86400])
]
# Endpoints on private, loopback or link-local addresses are refused (SSRF) unless this is true
# (development and tests, where receivers run on localhost).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# Days the delivery log keeps finished events (succeeded or exhausted everywhere).
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=90)

# --- payments (Stripe) ------------------------------------------------------------------------
# Without STRIPE_SECRET_KEY, Stripe is off: partners cannot save a payment method and finance
# records every payment by hand (the embedded default).
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
# Another API host (localstripe in tests and air-gapped installs); empty: Stripe's own.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Stripe.js, loaded by the portal's payment-method page (localstripe serves a fake one at
# <localstripe>/js.stripe.com/v3/).
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Webhook signatures older than this many seconds are refused (replays).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# Dunning: retry a failed charge this many days after the first failure; after the last retry
# fails the invoice is uncollectible.
PAYMENT_DUNNING_DAYS = [
    int(day) for day in env.list("PAYMENT_DUNNING_DAYS", default=["3", "7", "14"]) if day.strip()
]

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_RATE_LIMIT", default="1200/min")},
    "EXCEPTION_HANDLER": "core.api.exceptions.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
# Idempotency-Key records are only claimed or replayed for a credential this function accepts.
IDEMPOTENCY_CREDENTIAL_CHECK = "accounts.api.authentication.credential_is_active"
SPECTACULAR_SETTINGS = {
    "TITLE": "MSP Program API",
    "DESCRIPTION": "The integration surface of the MSP partner program platform. "
    "Authenticate with `Authorization: Bearer <key>`; the vendor is chosen by the host name.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name ("status") get stable component names.
    "ENUM_NAME_OVERRIDES": {
        "PartnerStatusEnum": "partners.enums.PartnerStatus",
        "NewPartnerStatusEnum": "partners.api.serializers.NEW_PARTNER_STATUS_CHOICES",
        "ClientStatusEnum": "partners.enums.ClientStatus",
        "WebhookEventTypeEnum": "webhooks.enums.WebhookEventType",
        "ResalePriceKindEnum": "reporting.enums.ResalePriceKind",
        "MarginMonthStatusEnum": "reporting.api.serializers.MARGIN_MONTH_STATUSES",
    },
    # Swagger UI served from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- logging: one JSON object per line --------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
