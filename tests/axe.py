"""axe-core over a page in the suite's Chromium: any serious or critical violation fails the test.

axe-core comes from the npm registry: `.ci/setup` installs the pinned version into `.axe/`
(git-ignored). A missing axe fails the test (it never skips): an accessibility sweep that
silently did not run would look the same as a clean one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE_VERSION = "4.14.1"
AXE_JS = Path(
    os.environ.get("REGISTRY_AXE_JS")
    or Path(__file__).resolve().parents[1] / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
)
# What a screen reader or keyboard user cannot get past; "moderate" and "minor" are reported by
# axe too, but a page is not refused for them.
BLOCKING = ("serious", "critical")

RUN = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return {version: axe.version, violations: result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary.split("\\n").join(" "))
    }))};
}"""


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every impact)."""
    assert AXE_JS.is_file(), f"axe-core is missing at {AXE_JS}: run `bash .ci/setup` (npm install of axe-core)"
    await page.add_script_tag(path=str(AXE_JS))
    result: dict[str, Any] = await page.evaluate(RUN)
    assert result["version"] == AXE_VERSION, result["version"]
    violations: list[dict[str, Any]] = result["violations"]
    return violations


async def blocking_violations(page: Page, name: str) -> list[str]:
    """The serious and critical axe-core violations on the page, each named by `name` and the page's URL."""
    return [
        f"{name} ({page.url}): {v['impact']} {v['id']} ({v['help']}): {' | '.join(v['nodes'])}"
        for v in await axe_violations(page)
        if v["impact"] in BLOCKING
    ]


async def short_links(page: Page, name: str) -> list[str]:
    """The visible text links under 44 px tall (a finger needs that much, not a mouse pointer's pixel)."""
    short: list[list[Any]] = await page.evaluate(
        """() => [...document.querySelectorAll("a[href]")]
            .filter(a => a.offsetParent !== null)
            .map(a => [a.textContent.trim(), Math.round(a.getBoundingClientRect().height * 10) / 10])
            .filter(([, height]) => height < 44)"""
    )
    return [f"{name} ({page.url}): link {text!r} is {height} px tall" for text, height in short]


class Sweep:
    """What a walk over pages found: every page is checked, then the test fails once, listing all of it."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.pages = 0

    async def check(self, page: Page, name: str) -> None:
        self.pages += 1
        self.problems += await blocking_violations(page, name)
        self.problems += await short_links(page, name)

    def assert_clean(self) -> None:
        assert self.pages > 0
        assert not self.problems, f"{len(self.problems)} problems on {self.pages} pages:\n" + "\n".join(self.problems)
