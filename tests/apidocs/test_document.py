"""The API document tells the truth about security and errors, and /schema shows it in a browser."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser

from registry.apidocs.problems import PROBLEMS
from registry.errors import problem_kinds
from tests.browser import SCREENSHOTS
from tests.conftest import LiveServer

PROBLEM = {"$ref": "#/components/schemas/Problem"}
# Operations anyone may call; every other /v1 operation names the credential it needs.
PUBLIC = {
    ("get", "/v1/agencies"),
    ("get", "/v1/audit/head"),
    ("post", "/v1/contact/codes"),
    ("post", "/v1/contact/sessions"),
    ("post", "/v1/admin/sessions"),
}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


async def test_every_operation_names_its_credential_and_documents_its_errors_as_problems(
    api: httpx.AsyncClient,
) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    audiences = ("AgencyKey", "ContactSession", "StaffSession")
    # One bearer scheme per audience; the SMS gateway signs its posts instead.
    assert set(schemes) == {*audiences, "GatewaySignature"}
    assert all(schemes[name]["type"] == "http" and schemes[name]["scheme"] == "bearer" for name in audiences)
    assert schemes["GatewaySignature"] == {
        "type": "apiKey",
        "name": "X-Registry-Signature",
        "in": "header",
        "description": schemes["GatewaySignature"]["description"],
    }
    for method, path, operation in operations(document):
        needs = {name for requirement in operation.get("security", []) for name in requirement}
        assert needs <= set(schemes), (method, path)
        if path.startswith("/v1/") and (method, path) not in PUBLIC:
            assert len(needs) == 1, (method, path, needs)
            assert "401" in operation["responses"], (method, path)
        if path.startswith(("/v1/checks", "/v1/attempts", "/v1/changes", "/v1/disputes")):
            assert needs == {"AgencyKey"}, (method, path)
            assert {"403", "429"} <= set(operation["responses"]), (method, path)
        if path.startswith("/v1/contact/") and (method, path) not in PUBLIC:
            assert needs == {"ContactSession"}, (method, path)
        if path.startswith("/v1/admin/") and (method, path) not in PUBLIC:
            assert needs == {"StaffSession"}, (method, path)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                # problem+json only: Litestar's default 400 body ({status_code, detail, extra}) is gone.
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (method, path)
        if "requestBody" in operation and "application/json" in operation["requestBody"]["content"]:
            assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)
        if "{" in path:
            assert "404" in operation["responses"], (method, path)
    # The attachment upload reads its form by hand; the document still shows the form.
    upload = document["paths"]["/v1/contact/disputes/{ref}/attachments"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file"]
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert document["components"]["schemas"]["FieldError"]["required"] == ["detail", "field"]
    # Retry-After is part of a 429's answer.
    checks = document["paths"]["/v1/checks"]["post"]["responses"]
    assert checks["429"]["headers"]["Retry-After"]["required"] is True


async def test_request_bodies_refuse_unknown_fields_in_the_document_too(api: httpx.AsyncClient) -> None:
    schemas = (await api.get("/schema/openapi.json")).json()["components"]["schemas"]
    for name in ("CheckRequest", "BatchRequest", "AttemptRequest", "RuleRequest", "DisputeRequest", "AgencyRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    # Answers may grow fields (the contract says: add freely), so they do not say so.
    assert "additionalProperties" not in schemas["CheckResult"]


async def test_metrics_are_documented_as_prometheus_text(api: httpx.AsyncClient) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]
    answer = await api.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")


async def test_every_problem_type_the_service_can_answer_is_a_page(api: httpx.AsyncClient) -> None:
    kinds = problem_kinds()
    assert set(kinds) == set(PROBLEMS), "every kind of problem needs its words in registry/apidocs/problems.py"
    for kind, title in kinds.items():
        page = await api.get(f"/problems/{kind}", headers={"Accept-Language": "en"})
        assert page.status_code == 200, kind
        assert page.headers["content-type"].startswith("text/html")
        assert title in page.text and f"/problems/{kind}" in page.text
    chinese = await api.get("/problems/unauthorized")
    assert "凭证" in chinese.text
    listing = await api.get("/problems", headers={"Accept-Language": "en"})
    assert all(f'href="/problems/{kind}"' in listing.text for kind in kinds)
    assert (await api.get("/problems/no_such_kind")).status_code == 404


async def test_a_problem_answer_links_to_its_page(api: httpx.AsyncClient) -> None:
    refused = await api.get("/v1/contact/me")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/unauthorized" and problem["code"] == "unauthorized"
    # Relative, so it resolves against the answer's own URL, whatever host serves it.
    page = await api.get(str(refused.url.join(problem["type"])))
    assert page.status_code == 200
    invalid = await api.post("/v1/contact/codes", json={"phone": "not a number"})
    assert (await api.get(invalid.json()["type"])).status_code == 200


async def test_the_docs_page_loads_nothing_from_elsewhere(api: httpx.AsyncClient) -> None:
    page = await api.get("/schema")
    assert page.status_code == 200
    assert "<script>" not in page.text and "http" not in page.text.replace('"/schema/openapi.json"', "")
    script = await api.get("/static/docs/redoc.standalone.js")
    assert script.status_code == 200 and len(script.content) > 500_000


async def test_the_docs_page_shows_the_operations_in_chromium(browser: Browser, live_server: LiveServer) -> None:
    context = await browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    ours = (live_server.url, "blob:" + live_server.url)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("request", lambda request: None if request.url.startswith(ours) else outside.append(request.url))
    try:
        await page.goto("/schema")
        await page.get_by_text("Ask before dialing").first.wait_for(timeout=20_000)
        await page.get_by_text("AgencyKey").first.wait_for()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "api-document.png"))
        assert await page.get_by_text("/v1/checks/batch").count() > 0
        # Search runs in Redoc's worker (allowed on this page only): it finds an operation.
        await page.fill("input[placeholder='Search...']", "batch")
        await page.locator("[data-role='search:results'] >> text='/v1/checks/batch'").wait_for()
        await page.screenshot(path=str(SCREENSHOTS / "api-document-search.png"))
        # One operation: its credential and its problem answers.
        await page.locator("[data-role='search:results'] >> text='/v1/checks/batch'").click()
        await page.get_by_text("AgencyKey").first.wait_for()
        await page.screenshot(path=str(SCREENSHOTS / "api-document-operation.png"))
    finally:
        await context.close()
    # Redoc's footer shows Redocly's logo from their CDN; the CSP stops it before it leaves (and Redoc
    # then hides it). Nothing else is fetched from anywhere but this service.
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert set(outside) <= {logo}, outside
    assert [e for e in errors if logo not in e] == [], errors
