"""Payments tests run against a real localstripe (one server per session, see
localstripe_server.py); `stripe_on` points the app at it for one test."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import tenant_live_server, undo_commits, undo_new_rows  # noqa: F401
from tests.payments.live_vendor import live_vendor  # noqa: F401
from tests.payments.localstripe_server import LocalStripe

WEBHOOK_SECRET = "whsec_localstripe_tests"


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    server = LocalStripe(Path(tempfile.gettempdir())).start()
    yield server
    server.stop()


@pytest.fixture
def stripe_on(settings, localstripe) -> LocalStripe:
    settings.STRIPE_SECRET_KEY = "sk_test_localstripe"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_JS_URL = f"{localstripe.url}/js.stripe.com/v3/"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PAYMENT_DUNNING_DAYS = [3, 7, 14]
    return localstripe


@pytest.fixture
def stripe_off(settings) -> None:
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_PUBLISHABLE_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
