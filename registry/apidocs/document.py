"""The OpenAPI document, drawn from what each route is rather than written beside it.

Who may call an operation and which errors it can answer follow from how the route is
built: the agency guard or a contact/staff bearer dependency gives its security scheme and
401 (403, 429 where that audience can get them); a body gives 400, 413 and 422; a path
parameter 404; the database 503. `ProblemResponses` does this for every route as it is
registered, so a route added later is documented the same way without anyone remembering
to. A handler names only what is peculiar to it, with `responses=problem_responses(Conflict)`.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Router

# Litestar's own schema for msgspec Structs, which knows nothing of forbid_unknown_fields; the class
# is not exported, but it is the one the app would use, so ours changes only that.
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.constants import RESERVED_KWARGS
from litestar.datastructures import ResponseHeader
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIHeader,
    OpenAPIResponse,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
    Tag,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.plugins import PluginProtocol, ReceiveRoutePlugin
from litestar.routes import HTTPRoute

from registry.agencies.guard import agency_key_guard
from registry.apidocs.examples import EXAMPLES, Examples
from registry.errors import problem_response
from registry.sessions.contact import bearer_contact
from registry.sessions.staff import bearer_admin, bearer_staff

if TYPE_CHECKING:
    from litestar import Request
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.routes import BaseRoute
    from litestar.typing import FieldDefinition

AGENCY, CONTACT, STAFF, GATEWAY = "AgencyKey", "ContactSession", "StaffSession", "GatewaySignature"

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    AGENCY: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="rk_...",
        description="An agency's API key, `Authorization: Bearer rk_...`. Keys are issued by the registry's "
        "admins (`POST /v1/admin/agencies/{agency_id}/keys`, or `registry key create`) and shown once.",
    ),
    CONTACT: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="ct_...",
        description="A contact's session token: ask for a code (`POST /v1/contact/codes`), then trade the SMS "
        "code for a token (`POST /v1/contact/sessions`).",
    ),
    STAFF: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="ra_...",
        description="A staff session (role admin or reviewer) from `POST /v1/admin/sessions`, valid 12 hours.",
    ),
    # Not a bearer token: the SMS gateway signs each body (HMAC-SHA256 under REGISTRY_SMS_WEBHOOK_SECRET).
    GATEWAY: SecurityScheme(
        type="apiKey",
        name="X-Registry-Signature",
        security_scheme_in="header",
        description="The SMS gateway's signature of the raw body: `sha256=<hex HMAC-SHA256>` under the "
        "shared secret (REGISTRY_SMS_WEBHOOK_SECRET).",
    ),
}


@dataclass(frozen=True)
class Audience:
    scheme: str
    # Problems a caller of this kind can get beyond 401: 403 for a suspended agency or a reviewer
    # asking for an admin's work, 429 for an agency key past its requests for the minute.
    problems: tuple[int, ...] = ()


# How each audience proves who it is: the agency guard, or the bearer dependency a handler asks for.
AUDIENCE_BY_GUARD: dict[Callable[..., Any], Audience] = {agency_key_guard: Audience(AGENCY, (403, 429))}
AUDIENCE_BY_DEPENDENCY: dict[Callable[..., Any], Audience] = {
    bearer_contact: Audience(CONTACT),
    bearer_staff: Audience(STAFF),
    bearer_admin: Audience(STAFF, (403,)),
}


@dataclass(frozen=True)
class RouteTraits:
    """What an operation's errors follow from."""

    audiences: tuple[Audience, ...]
    has_body: bool
    has_parameters: bool
    has_path_parameters: bool
    uses_database: bool
    # A credential the route names itself (`security=`), checked by a guard of its own.
    declares_security: bool = False

    def problems(self) -> set[int]:
        statuses: set[int] = set()
        if self.has_body or self.has_parameters or self.has_path_parameters:
            # 400: malformed JSON, a parameter of the wrong type; 422: a value the domain refuses.
            statuses |= {400, 422}
        if self.has_body:
            statuses.add(413)
        if self.has_path_parameters:
            statuses.add(404)
        if self.declares_security:
            statuses.add(401)
        for audience in self.audiences:
            statuses |= {401, *audience.problems}
        if self.uses_database:
            statuses.add(503)
        return statuses


def route_traits(handler: HTTPRouteHandler, route: HTTPRoute) -> RouteTraits:
    provided = handler.resolve_dependencies()
    used: dict[str, Callable[..., Any]] = {}
    names = list(handler.parsed_fn_signature.parameters)
    wanted = set(names)
    # The dependencies the handler asks for, and theirs in turn (Litestar resolves only those).
    while names:
        name = names.pop()
        if name in used or name not in provided:
            continue
        dependency = _callable(provided[name].dependency)
        used[name] = dependency
        parameters = list(inspect.signature(dependency).parameters)
        wanted.update(parameters)
        names.extend(parameters)
    audiences = [AUDIENCE_BY_GUARD[g] for g in handler.resolve_guards() if g in AUDIENCE_BY_GUARD]
    audiences += [AUDIENCE_BY_DEPENDENCY[d] for d in used.values() if d in AUDIENCE_BY_DEPENDENCY]
    own = set(handler.parsed_fn_signature.parameters) - set(provided) - RESERVED_KWARGS
    path_parameters = set(route.path_parameters)
    return RouteTraits(
        audiences=tuple(dict.fromkeys(audiences)),
        has_body="data" in wanted or isinstance(handler.opt.get("request_body"), RequestBody),
        has_parameters=bool(own - path_parameters),
        has_path_parameters=bool(path_parameters),
        # The pool behind `conn`, a handler that reaches into app state for the pool or the shared
        # limit store itself (sign-in, readiness), or a credential to look up.
        uses_database="conn" in used or "state" in handler.parsed_fn_signature.parameters or bool(audiences),
        declares_security=bool(declared_security(handler)),
    )


def declared_security(handler: HTTPRouteHandler) -> list[SecurityRequirement]:
    """The requirements the handler and its layers name themselves (not `resolve_security()`, which
    would cache the answer before the audiences' are added)."""
    return [requirement for layer in handler.ownership_layers for requirement in (layer.security or [])]


def _callable(dependency: Any) -> Callable[..., Any]:
    """The function behind a provider (Litestar wraps sync ones run in a thread)."""
    inner = getattr(dependency, "func", None) or getattr(dependency, "_func", None)
    return inner if callable(inner) else dependency  # type: ignore[no-any-return]


@dataclass
class DocumentedOperation(Operation):
    """An operation whose 401, 429 and 503 answers name the headers they carry."""

    def __post_init__(self) -> None:
        for status, response in (self.responses or {}).items():
            if isinstance(response, OpenAPIResponse) and status in ANSWER_HEADERS:
                response.headers = {**(response.headers or {}), **ANSWER_HEADERS[status]}


def documented(request_body: RequestBody | None, examples: Examples | None, status: int) -> type[Operation]:
    """The operation class for a handler: a body read by hand filled in, the examples shown (if any)."""
    if request_body is None and examples is None:
        return DocumentedOperation

    @dataclass
    class Documented(DocumentedOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            if request_body is not None and self.request_body is None:
                self.request_body = request_body
            if examples is not None:
                show_examples(self, examples, status)

    return Documented


def show_examples(operation: Operation, examples: Examples, status: int) -> None:
    """`examples` on the operation's JSON body and on its `status` answer."""
    if examples.request is not None and isinstance(operation.request_body, RequestBody):
        for media in operation.request_body.content.values():
            media.examples = {"example": Example(summary=examples.summary, value=examples.request)}
    answer = (operation.responses or {}).get(str(status))
    if examples.answer is not None and isinstance(answer, OpenAPIResponse):
        for media in (answer.content or {}).values():
            media.examples = {"example": Example(summary=examples.summary, value=examples.answer)}


ANSWER_HEADERS: dict[str, dict[str, OpenAPIHeader]] = {
    "401": {"WWW-Authenticate": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description="`Bearer`")},
    "429": {
        "Retry-After": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.INTEGER), description="Seconds to wait before trying again.", required=True
        )
    },
    "503": {
        "Retry-After": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.INTEGER), description="Seconds to wait before trying again.", required=True
        )
    },
}


class ProblemResponses(ReceiveRoutePlugin):
    """Documents each route's security and problem answers as the app registers it."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                document(handler, route)


def document(handler: HTTPRouteHandler, route: HTTPRoute) -> None:
    traits = route_traits(handler, route)
    problems = {status: problem_response(status) for status in sorted(traits.problems())}
    # What the handler says of itself wins; what it does not say is filled in. This also replaces
    # Litestar's default 400 (a JSON `status_code`/`detail` body this API never sends).
    handler.responses = {**problems, **(handler.responses or {})}
    declared = declared_security(handler)
    own = list(handler.security or [])
    for audience in traits.audiences:
        if not any(audience.scheme in requirement for requirement in declared):
            own.append({audience.scheme: []})
    handler.security = own or None
    # A body read by hand (a multipart form) is documented from the handler's opt["request_body"].
    request_body = handler.opt.get("request_body")
    # The main calls show an example of what to send and what comes back (registry/apidocs/examples.py).
    examples = next((EXAMPLES[k] for m in handler.http_methods if (k := f"{m} {route.path}") in EXAMPLES), None)
    handler.operation_class = documented(
        request_body if isinstance(request_body, RequestBody) else None, examples, handler.status_code
    )


class StrictStructs(StructSchemaPlugin):
    """Request Structs that refuse unknown fields say so: `additionalProperties: false`."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


# ---- the docs page ---------------------------------------------------------------------------------

REDOC_JS = "/static/docs/redoc.standalone.js"

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
</head>
<body style="margin: 0">
<redoc spec-url="{spec_url}" side-nav-style="path-only" expand-responses="200,201" required-props-first="true"></redoc>
<script src="{js_url}"></script>
</body>
</html>
"""


class LocalRedoc(OpenAPIRenderPlugin):
    """Redoc from our own package, started by its `<redoc spec-url>` element.

    Litestar's Redoc page loads the script from a CDN and starts it with an inline script; the
    service's CSP allows neither (scripts from this origin only), and the CDNs are out of reach
    from mainland China. The bundle is vendored in registry/pages/static/docs/ with its licenses.
    """

    def __init__(self) -> None:
        super().__init__(path="/redoc", media_type=MediaType.HTML, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return DOCS_PAGE.format(
            title=html.escape(str(openapi_schema["info"]["title"])),
            spec_url=html.escape(self.get_openapi_json_route(request)),
            js_url=REDOC_JS,
        ).encode()


DESCRIPTION = """\
Contact consent registry: contacts refuse or consent to collection calls; agencies check before dialing.

**Who calls what.** The agency API (`agency`) takes an agency's API key, the contact API (`contact`) a
contact's session token, the admin API (`admin`) a staff session token: each as `Authorization: Bearer
<token>`. Each operation lists the one it needs under *Authorizations*; `public` operations need none.

**Errors** are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details,
`application/problem+json`: `type` (a page of this service, `/problems/{kind}`, explaining the kind of
problem), `title`, `status`, `detail` (English, for people), `code` (the exact case, stable: decide by
it), and for bad input `errors`, one `{field, detail}` per bad field. 429 and 503 carry `Retry-After`.

Request bodies are JSON objects that refuse fields they do not define. Times are RFC 3339 in UTC.
The document itself: [/schema/openapi.json](/schema/openapi.json).
"""

TAGS = [
    Tag(name="agency", description="Lenders and collection agencies: check before dialing, report attempts."),
    Tag(name="contact", description="People listed as contacts: refuse or consent, see who looked, complain."),
    Tag(name="admin", description="The registry's staff: review complaints, manage agencies and keys."),
    Tag(name="public", description="Anyone: the registered agencies, the signed audit head, the keys."),
    Tag(name="ops", description="Health, readiness and metrics for operators."),
    Tag(name="sms", description="For the SMS gateway: what contacts text back."),
]


# The service's CSP plus one thing: Redoc runs its search index in a worker it makes from a blob.
# Only the docs page gets it (its router's header; the security headers keep a response's own).
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; form-action 'self'"
)


def openapi_config(version: str = "1.0.0") -> OpenAPIConfig:
    docs = Router(
        "/schema",
        route_handlers=[],
        include_in_schema=False,
        response_headers=[ResponseHeader(name="Content-Security-Policy", value=DOCS_CSP)],
    )
    return OpenAPIConfig(
        title="Contact consent registry",
        version=version,
        description=DESCRIPTION,
        path="/schema",
        use_handler_docstrings=True,
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
        tags=TAGS,
        render_plugins=[LocalRedoc()],
        openapi_router=docs,
    )


# The app's plugins for its document: both must be registered for it to tell the truth.
PLUGINS: list[PluginProtocol] = [ProblemResponses(), StrictStructs()]
