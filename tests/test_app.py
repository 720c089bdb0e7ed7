"""The app's ground: health, readiness, problem+json, body limits, headers, docs."""

from __future__ import annotations

import httpx


async def test_healthz_and_readyz(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_unknown_path_is_problem_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404 and body["title"] and body["type"].endswith("not_found")


async def test_security_headers(api: httpx.AsyncClient) -> None:
    """On every response, also those built by exception handlers (they skipped an after_request hook)."""
    answers = [
        await api.get("/healthz"),
        await api.get("/v1/nothing-here"),  # 404 from the router
        await api.get("/v1/changes"),  # 401 from the agency guard
        await api.get("/me"),  # a redirect to sign-in, from an exception handler
        await api.post("/v1/checks", content=b"{", headers={"Authorization": "Bearer rk_x"}),  # 401/400
    ]
    assert [a.status_code for a in answers][:4] == [200, 404, 401, 303]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.status_code
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"


async def test_openapi_schema_is_served(api: httpx.AsyncClient) -> None:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Contact consent registry"


async def test_metrics_are_prometheus_text(api: httpx.AsyncClient) -> None:
    await api.get("/healthz")
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert "registry_requests_total" in response.text


def test_validation_errors_name_the_field() -> None:
    """Missing and unknown fields are named themselves, with their path inside the body."""
    from registry.errors import _field_error

    assert _field_error({"message": "Object contains unknown field `zzz`", "key": "data"})["field"] == "zzz"
    assert _field_error({"message": "Object missing required field `phone`", "key": "data"})["field"] == "phone"
    nested = _field_error({"message": "Object contains unknown field `q`", "key": "items[1]", "source": "body"})
    assert nested == {"field": "items[1].q", "detail": "Object contains unknown field `q`"}
    typed = _field_error({"message": "Expected `str`, got `int`", "key": "items[0].phone", "source": "body"})
    assert typed["field"] == "items[0].phone"
    assert _field_error({"message": "Expected `object`, got `array`", "key": "data"})["field"] == "body"
