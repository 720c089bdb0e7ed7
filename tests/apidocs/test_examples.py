"""The document's examples are true: each one decodes into the route's own request and answer types.

The examples are plain JSON (registry/apidocs/examples.py); here they go through msgspec's JSON
decoding into the Structs the routes take and return, as a real request or answer would, and the
live document must show each of them on its operation. The webhook routes are documented like the
rest of the agency API: the agency key, and problem answers.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from registry.apidocs.examples import EXAMPLES
from registry.checks import schemas as checks
from registry.webhooks import schemas as webhooks

TYPES: dict[str, tuple[type[Any] | None, type[Any]]] = {
    "POST /v1/checks": (checks.CheckRequest, checks.CheckResult),
    "POST /v1/checks/batch": (checks.BatchRequest, checks.BatchResponse),
    "POST /v1/attempts": (checks.AttemptRequest, checks.AttemptResult),
    "GET /v1/changes": (None, checks.ChangesPage),
    "PUT /v1/webhook": (webhooks.WebhookRequest, webhooks.Webhook),
    "GET /v1/webhook/deliveries": (None, webhooks.Deliveries),
}


def test_each_example_decodes_into_the_routes_own_types() -> None:
    assert set(EXAMPLES) == set(TYPES)
    for operation, (request_type, answer_type) in TYPES.items():
        examples = EXAMPLES[operation]
        if request_type is None:
            assert examples.request is None, operation
        else:
            msgspec.json.decode(msgspec.json.encode(examples.request), type=request_type)
        assert examples.answer is not None, operation
        answer = msgspec.json.decode(msgspec.json.encode(examples.answer), type=answer_type)
        # Nothing in the example that the answer type would drop: encoded back, it is the same JSON.
        assert msgspec.json.decode(msgspec.json.encode(answer)) == examples.answer, operation
    # The batch's items are checked one by one by the route: its first is a good check request.
    first = EXAMPLES["POST /v1/checks/batch"].request
    assert first is not None
    msgspec.convert(first["items"][0], checks.CheckRequest)


def without_nulls(value: Any) -> Any:
    """Litestar leaves members whose value is null out of the document, examples' included."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


async def test_the_document_shows_the_examples_and_documents_the_webhook(api: httpx.AsyncClient) -> None:
    document = (await api.get("/schema/openapi.json")).json()
    for key, examples in EXAMPLES.items():
        method, path = key.split(" ", 1)
        operation = document["paths"][path][method.lower()]
        if examples.request is not None:
            shown = operation["requestBody"]["content"]["application/json"]["examples"]
            assert [e["value"] for e in shown.values()] == [without_nulls(examples.request)], key
        success = next(status for status in operation["responses"] if status.startswith("2"))
        shown = operation["responses"][success]["content"]["application/json"]["examples"]
        assert [e["value"] for e in shown.values()] == [without_nulls(examples.answer)], key
    for method, path in (("put", "/v1/webhook"), ("delete", "/v1/webhook"), ("get", "/v1/webhook/deliveries")):
        operation = document["paths"][path][method]
        assert operation["security"] == [{"AgencyKey": []}], (method, path)
        assert {"401", "403", "429", "503"} <= set(operation["responses"]), (method, path)
    assert {"400", "413", "422"} <= set(document["paths"]["/v1/webhook"]["put"]["responses"])
