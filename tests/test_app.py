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
    response = await api.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_openapi_schema_is_served(api: httpx.AsyncClient) -> None:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Contact consent registry"


async def test_metrics_are_prometheus_text(api: httpx.AsyncClient) -> None:
    await api.get("/healthz")
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert "registry_requests_total" in response.text
