"""What the deliveries list says, as an agency polls it."""

from __future__ import annotations

import asyncio

import httpx

from tests.factories import bearer


async def wait_for_a_try(api: httpx.AsyncClient, key: str, timeout: float = 30.0) -> dict[str, object]:
    """The newest delivery once it has been tried at least once; fails after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await api.get("/v1/webhook/deliveries", headers=bearer(key))
        items = answer.json()["items"]
        if items and items[0]["attempts"] >= 1:
            item: dict[str, object] = items[0]
            return item
        if loop.time() > deadline:
            raise AssertionError(f"no delivery tried after {timeout} s: {items}")
        await asyncio.sleep(0.05)
