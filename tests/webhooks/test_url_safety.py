"""Which endpoint URLs are accepted: http(s) only; private, loopback and link-local addresses
refused unless WEBHOOKS_ALLOW_PRIVATE_URLS (development, tests)."""

from __future__ import annotations

import re
from unittest import mock

import pytest

from webhooks.errors import WebhookError
from webhooks.url_safety import check_url

PRIVATE = re.escape("This URL points to a private or local address; use a public one.")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hooks",
        "http://[fd00::1]/hooks",
        "http://0.0.0.0/",
        "http://100.64.0.1/",  # carrier-grade NAT
    ],
)
def test_private_and_local_addresses_are_refused_in_production(url):
    with pytest.raises(WebhookError, match=PRIVATE) as caught:
        check_url(url, allow_private=False)
    assert caught.value.field == "url"


def test_a_name_that_resolves_to_a_private_address_is_refused():
    answer = [(2, 1, 6, "", ("10.0.0.7", 0))]
    with (
        mock.patch("webhooks.url_safety.socket.getaddrinfo", return_value=answer),
        pytest.raises(WebhookError, match=PRIVATE),
    ):
        check_url("https://internal.example.com/hooks", allow_private=False)


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    answer = [(2, 1, 6, "", ("93.184.216.34", 0)), (10, 1, 6, "", ("::1", 0, 0, 0))]
    with (
        mock.patch("webhooks.url_safety.socket.getaddrinfo", return_value=answer),
        pytest.raises(WebhookError, match=PRIVATE),
    ):
        check_url("https://mixed.example.com/hooks", allow_private=False)


def test_public_addresses_pass():
    check_url("https://93.184.216.34/hooks", allow_private=False)
    answer = [(2, 1, 6, "", ("93.184.216.34", 0))]
    with mock.patch("webhooks.url_safety.socket.getaddrinfo", return_value=answer):
        check_url("https://hooks.example.com/msp", allow_private=False)


def test_unresolvable_names_are_refused():
    with (
        mock.patch("webhooks.url_safety.socket.getaddrinfo", side_effect=OSError("no such name")),
        pytest.raises(WebhookError, match="cannot be resolved"),
    ):
        check_url("https://nowhere.invalid/", allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://files.example.com/x", "file:///etc/passwd", "javascript:alert(1)", "hooks"]
)
def test_only_http_and_https(url):
    with pytest.raises(WebhookError, match=re.escape("Use an http:// or https:// URL.")):
        check_url(url, allow_private=True)


def test_credentials_in_the_url_are_refused():
    with pytest.raises(WebhookError, match="Leave credentials out"):
        check_url("https://user:pw@hooks.example.com/", allow_private=True)


def test_local_addresses_pass_when_allowed():
    check_url("http://127.0.0.1:8000/hooks", allow_private=True)
    check_url("http://localhost:8000/hooks", allow_private=True)


@pytest.mark.parametrize("allow_private", [True, False])
@pytest.mark.parametrize(
    "url",
    ["http://[::1", "https://hooks.example.com:99999/", "https://hooks.example.com:abc/"],
)
def test_a_malformed_url_is_a_readable_error_not_a_crash(url, allow_private):
    with pytest.raises(
        WebhookError, match=r"not a valid URL \(check the host and port\)"
    ) as caught:
        check_url(url, allow_private=allow_private)
    assert caught.value.field == "url"


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/", "http://127.0.0.1:abc/"])
def test_the_sender_records_a_bad_stored_url_as_a_failed_attempt(url):
    from webhooks.sender import post

    result = post(url, b"{}", {}, timeout=1)
    assert (result.status_code, result.ok) == (None, False)
    assert result.error.startswith("Connection failed: ")
