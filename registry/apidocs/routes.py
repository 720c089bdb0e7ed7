"""/problems: a page for each kind of problem the API answers (a problem's `type` points here)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from registry.apidocs.problems import PROBLEMS
from registry.errors import PROBLEM_BASE, NotFound, problem_kinds
from registry.pages.i18n import Texts
from registry.pages.kit import TEXTS, page

# The few words around the explanations, in each language (too few to be worth a catalog entry each).
LABELS = {
    "zh_CN": {
        "heading": "API 错误类型",
        "intro": "API 的每个错误答复都是 RFC 9457 problem+json，其 `type` 指向下列页面之一。",
        "means": "含义",
        "todo": "怎么办",
        "all": "所有错误类型",
        "api": "API 文档",
    },
    "en": {
        "heading": "API problem types",
        "intro": "Every error answer of the API is RFC 9457 problem+json whose `type` points at one of these pages.",
        "means": "What it means",
        "todo": "What to do",
        "all": "All problem types",
        "api": "API document",
    },
}


def _language(texts: Texts) -> str:
    return "zh_CN" if texts.locale == "zh_CN" else "en"


@get("/problems", include_in_schema=False, dependencies=TEXTS)
async def problem_list(texts: NamedDependency[Texts]) -> Template:
    """Every kind of problem, with its title and statuses."""
    language = _language(texts)
    titles = problem_kinds()
    kinds = [(kind, titles.get(kind, kind), words.statuses) for kind, words in PROBLEMS.items()]
    return page(texts, "problems/list.html", labels=LABELS[language], kinds=kinds, base=PROBLEM_BASE)


@get("/problems/{kind:str}", include_in_schema=False, dependencies=TEXTS)
async def problem_page(kind: FromPath[str], texts: NamedDependency[Texts]) -> Template:
    """What one kind of problem means and what to do about it."""
    words = PROBLEMS.get(kind)
    if words is None:
        raise NotFound(f"no problem type {kind!r}; see {PROBLEM_BASE.rstrip('/')}")
    language = _language(texts)
    means, todo = words.zh if language == "zh_CN" else words.en
    return page(
        texts,
        "problems/show.html",
        labels=LABELS[language],
        kind=kind,
        title=problem_kinds().get(kind, kind),
        statuses=words.statuses,
        means=means,
        todo=todo,
        base=PROBLEM_BASE,
    )


ROUTES: list[ControllerRouterHandler] = [problem_list, problem_page]
