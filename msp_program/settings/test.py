"""The test suite: fast hashing, in-memory mail, real PostgreSQL and Redis."""

from .base import *  # noqa: F403
from .base import CACHES, REST_FRAMEWORK, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", default="msp-test")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"api_key": "10000/min"}
ALLOWED_HOSTS = ["*"]
# Webhook receivers in development and tests run on localhost.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=True)
