"""The language switch goes back to one of our own pages, never to another site."""

from __future__ import annotations

import httpx
import pytest

from registry.pages.kit import safe_next


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",  # browsers read `\` as `/`: this is //evil.example
        "/\\/evil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines
        "/\n/evil.example",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_next_never_leaves_the_site(value: str | None) -> None:
    assert safe_next(value) == "/"


def test_next_keeps_our_own_paths() -> None:
    assert safe_next("/me") == "/me"
    assert safe_next("/complaints/D-2026-7KQ3M9?filed=1") == "/complaints/D-2026-7KQ3M9?filed=1"


async def test_language_switch_redirect_stays_on_the_site(api: httpx.AsyncClient) -> None:
    for raw in ("/%5Cevil.example", "/%5C%5Cevil.example", "/%09/evil.example"):
        response = await api.get(f"/lang/en?next={raw}")
        assert response.status_code == 303
        assert response.headers["location"] == "/", raw
    back = await api.get("/lang/en?next=/me/checks")
    assert back.headers["location"] == "/me/checks"


def test_switch_keeps_the_query_of_our_own_page() -> None:
    from registry.pages.kit import safe_next

    assert safe_next("/admin/?status=open&overdue=true") == "/admin/?status=open&overdue=true"
    assert safe_next("//evil.example/?a=1") == "/"
