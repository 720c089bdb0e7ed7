"""Reading a refusal: the status, the problem+json media type, and the body's members."""

from __future__ import annotations

from typing import Any

import httpx


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of a refusal with this status (its `status` member says the same)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def fields(body: dict[str, Any]) -> list[str]:
    """The fields a problem's `errors` names, in order."""
    errors = body["errors"]
    assert isinstance(errors, list)
    return [e["field"] for e in errors]
