"""Every error under /api/ is problem+json: 404, 405, 401, 429, validation and unhandled ones."""

import pytest
from django.test import override_settings
from django.urls import path

from core.api.problems import PROBLEM_CONTENT_TYPE

pytestmark = pytest.mark.django_db


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    assert "Traceback" not in response.content.decode()
    return body


def test_unknown_api_url_is_problem_404(api_a):
    body = assert_problem(api_a.get("/api/v1/no-such-thing/"), 404)
    assert body["title"] == "Not found"


def test_unknown_object_is_problem_404(api_a):
    assert_problem(api_a.get("/api/v1/api-keys/999999/"), 404)


def test_wrong_method_is_problem_405_with_allow(api_a):
    response = api_a.delete("/api/v1/api-keys/")
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_missing_key_is_problem_401(client_a):
    response = client_a.get("/api/v1/api-keys/")
    body = assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert body["type"].endswith("not-authenticated")


def test_malformed_authorization_is_problem_401(client_a):
    assert_problem(client_a.get("/api/v1/api-keys/", HTTP_AUTHORIZATION="Token abc"), 401)


def test_validation_error_lists_fields(api_a):
    response = api_a.post("/api/v1/api-keys/", {"name": ""}, content_type="application/json")
    body = assert_problem(response, 400)
    assert body["errors"] == [
        {"field": "name", "code": "blank", "message": "This field may not be blank."}
    ]


def test_malformed_json_is_problem_400(api_a):
    response = api_a.post("/api/v1/api-keys/", "{nope", content_type="application/json")
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


def test_throttled_is_problem_429_with_retry_after(api_a, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        for _ in range(3):
            assert api_a.get("/api/v1/api-keys/").status_code == 200
        response = api_a.get("/api/v1/api-keys/")
        assert_problem(response, 429)
        assert int(response["Retry-After"]) >= 1
    finally:
        SimpleRateThrottle.THROTTLE_RATES = {"api_key": "10000/min"}


def _boom(request):
    raise RuntimeError("secret internals")


urlpatterns = [path("api/v1/boom/", _boom)]


def test_unhandled_exception_is_problem_500_without_internals(vendor_a):
    from django.test import Client

    client = Client(HTTP_HOST=vendor_a.host, raise_request_exception=False)
    with override_settings(ROOT_URLCONF=__name__):
        response = client.get("/api/v1/boom/")
    body = assert_problem(response, 500)
    assert "secret internals" not in response.content.decode()
    assert response["X-Request-ID"] in body["detail"]
