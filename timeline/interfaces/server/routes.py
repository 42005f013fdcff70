"""The API's endpoints: the CLI's questions over HTTP, with the JSON contract.

Every endpoint that reads the database is a plain function, which FastAPI
runs on its thread pool; the feed is the one that waits on the event loop.
Dates take every precision the CLI takes (`2023`, `2023-01`, `2023-W03`,
`2023-01-20`, an instant). An answer about the store as known at a time no
later than its last recorded event can never change (recorded times never
decrease): it carries a strong `ETag` and may be cached for a year.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import itertools
import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from events import REGISTRY, InvalidEvent, Occurred
from projections import SECTIONS, diff_to_json, history_to_json
from projections.record import SortKey, fold_order
from timeline.dossiers import files as dossier_files
from timeline.engine import cutoff
from timeline.interfaces.render import LOG_SCHEMA, entry_to_json
from timeline.interfaces.server import documents, problems
from timeline.interfaces.server.problems import Problem
from timeline.log import Entry
from timeline.readmodels.projector import checkpoint, settled

router = APIRouter()

FINAL = "public, max-age=31536000, immutable"
POSITION = re.compile(r"[0-9]{1,18}")
"""A position or a length as a header gives it: ASCII digits, within a 64-bit integer
(`str.isdigit` accepts "²", and `int` refuses more than 4,300 digits)."""
FORMATS = {
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
    "application/jsonl": "jsonl",
    "application/jsonlines": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/x-ndjson": "jsonl",
}
"""Media types `POST /api/import` takes, and the dossier format each is."""


def service(request: Request) -> Any:
    return request.app.state.service


Service = Annotated[Any, Depends(service)]
When = Annotated[
    str | None,
    Query(description="A date in any precision: 2023, 2023-01, 2023-W03, 2023-01-20, an instant."),
]
Name = Annotated[str | None, Query(max_length=200)]
Sections = Annotated[
    list[str] | None,
    Query(
        description="Only these sections (repeat for several).",
        json_schema_extra={"items": {"type": "string", "enum": list(SECTIONS)}},
    ),
]


def problem() -> dict[str, Any]:
    """An error response in the OpenAPI document."""
    return {
        "description": "Problem details (RFC 9457).",
        "content": {problems.MEDIA_TYPE: {"schema": problems.SCHEMA}},
    }


def documented(name: str, *errors: int, cached: bool = False) -> dict[int | str, Any]:
    """The responses of an endpoint answering with the document `name`."""
    found: dict[int | str, Any] = {
        200: {
            "description": f"A `{name}` document (docs/json-schema.md).",
            "content": {"application/json": {"schema": documents.schema_of(name)}},
        }
    }
    if cached:
        found[304] = {"description": "Not modified: the ETag given still holds."}
    for status in errors:
        found[status] = problem()
    return found


# -- parameters -----------------------------------------------------------------------


def _when(name: str, value: str | None) -> str | None:
    """A date parameter, checked: a bad one is a 400 naming the parameter."""
    if value is None:
        return None
    try:
        Occurred.parse(value)
    except InvalidEvent as err:
        raise Problem(400, "invalid-date", "Invalid date", f"{name}: {err.expected}") from err
    return value


def _ordered(first: tuple[str, str | None], second: tuple[str, str | None]) -> None:
    """Refuse two dates in the wrong order, as the CLI does."""
    (name_a, a), (name_b, b) = first, second
    if a is not None and b is not None and Occurred.parse(a).start > Occurred.parse(b).start:
        detail = f"{name_a} {a} comes after {name_b} {b}"
        raise Problem(400, "invalid-date", "Dates in the wrong order", detail)


def _sections(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        if value not in SECTIONS:
            expected = f"section: expected one of {', '.join(SECTIONS)}, got {value!r}"
            raise Problem(400, "invalid-parameter", "Invalid parameter", expected)
    return values


def _final(svc: Any, *known_at: str | None) -> bool:
    """Whether an answer as known at these times can never change: each is given and
    at or before the time up to which the read models are final."""
    if any(k is None for k in known_at):
        return False
    with svc.timeline.store.engine.connect() as conn:
        last = settled(conn)
    return last is not None and all(cutoff(k) <= last for k in known_at if k is not None)


def _document(request: Request, body: dict[str, Any] | bytes, *, final: bool) -> Response:
    """A JSON answer (a document, or its text); a final one with a strong ETag, answered
    304 when it matches."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    if not final:
        return Response(
            content, media_type="application/json", headers={"Cache-Control": "no-cache"}
        )
    tag = f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    headers = {"ETag": tag, "Cache-Control": FINAL}
    asked = request.headers.get("if-none-match", "")
    if any(t.strip().removeprefix("W/") in (tag, "*") for t in asked.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


# -- the read side ----------------------------------------------------------------------


@router.get(
    "/api/state",
    summary="Every actor's position, pledges, requests... as of a date",
    responses=documented("timeline.state/2", 404, cached=True),
)
def state(
    request: Request,
    svc: Service,
    as_of: When = None,
    known_at: When = None,
    dossier: Name = None,
    actor: Name = None,
    issue: Name = None,
    section: Sections = None,
) -> Response:
    """The state as of `as_of` (default: now), as the store knew it at `known_at`
    (default: now), of the items the filters keep."""
    as_of, known_at = _when("as_of", as_of), _when("known_at", known_at)
    # Decided before reading: the answer may then lack nothing projected later. Without
    # `as_of` the answer moves with the clock.
    final = as_of is not None and _final(svc, known_at)
    found = svc.timeline.state_document(
        as_of or _now(),
        known_at=known_at,
        dossier=dossier,
        actor=actor,
        issue=issue,
        sections=_sections(section),
    )
    return _document(request, "".join(found).encode(), final=final)


@router.get(
    "/api/diff",
    summary="What changed between two dates, and because of which events",
    responses=documented("timeline.diff/2", 404, cached=True),
)
def diff(
    request: Request,
    svc: Service,
    from_: Annotated[str, Query(alias="from", description="From the end of this date.")],
    to: Annotated[str, Query(description="To the end of this date.")],
    known_at: When = None,
    from_known_at: When = None,
    to_known_at: When = None,
    dossier: Name = None,
    actor: Name = None,
    issue: Name = None,
    section: Sections = None,
) -> Response:
    """The changes from the state at `from` to the state at `to`; `from_known_at` and
    `to_known_at` set each side's transaction time, `known_at` both."""
    _ordered(("from", _when("from", from_)), ("to", _when("to", to)))
    known_at = _when("known_at", known_at)
    before = _when("from_known_at", from_known_at) or known_at
    after = _when("to_known_at", to_known_at) or known_at
    final = _final(svc, before, after)  # decided before reading, as for a state
    found = svc.timeline.diff(
        from_,
        to,
        from_known_at=before,
        to_known_at=after,
        dossier=dossier,
        actor=actor,
        issue=issue,
        sections=_sections(section),
    )
    return _document(request, diff_to_json(found), final=final)


@router.get(
    "/api/history/{section}/{key:path}",
    summary="Every version of one item, oldest first",
    responses=documented("timeline.history/1", 404, cached=True),
)
def history(
    request: Request,
    svc: Service,
    section: Annotated[str, Path(description=f"One of {', '.join(SECTIONS)}.")],
    key: Annotated[
        str,
        Path(description="The item's key without its dossier: DEU/mbt-for-ukraine."),
    ],
    dossier: Name = None,
    known_at: When = None,
) -> Response:
    _sections([section])
    parts = tuple(part for part in key.split("/") if part)
    if not parts:
        raise Problem(400, "invalid-parameter", "Invalid parameter", "key: expected KEY/...")
    known_at = _when("known_at", known_at)
    final = _final(svc, known_at)  # decided before reading, as for a state
    whole, versions = svc.timeline.history(section, parts, dossier=dossier, known_at=known_at)
    known = cutoff(known_at) if known_at else None
    body = history_to_json(section, whole, known, versions)
    return _document(request, body, final=final)


@router.get(
    "/api/log",
    summary="The chronological feed of events, a page at a time",
    responses=documented("timeline.log/2", 404),
)
def log(
    request: Request,
    svc: Service,
    dossier: Name = None,
    actor: Name = None,
    type: Annotated[
        list[str] | None,
        Query(
            description="Only these event types (repeat for several).",
            json_schema_extra={"items": {"type": "string", "enum": sorted(REGISTRY)}},
        ),
    ] = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: When = None,
    known_at: When = None,
    raw: bool = False,
    retracted: bool = False,
    cursor: Annotated[str | None, Query(description="The `next` of the page before.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Events by valid time, as corrections left them (or as recorded, `raw`); pages
    of a listing share one transaction time, pinned by the first page."""
    start, end = _when("from", from_), _when("to", to)
    _ordered(("from", start), ("to", end))
    for kind in type or ():
        if kind not in REGISTRY:
            detail = f"type: expected one of {', '.join(sorted(REGISTRY))}, got {kind!r}"
            raise Problem(400, "invalid-parameter", "Invalid parameter", detail)
    pinned, after = _cursor(cursor) if cursor else (None, None)
    known = pinned or (cutoff(k) if (k := _when("known_at", known_at)) else _now())
    entries = svc.timeline.log(
        dossier=dossier,
        actor=actor,
        types=type,
        start=start,
        end=end,
        known_at=known,
        raw=raw,
        retracted=retracted,
        after=after,
    )
    listed = list(itertools.islice(entries, limit + 1))
    page, rest = listed[:limit], listed[limit:]
    body = {
        "schema": LOG_SCHEMA,
        "events": [entry_to_json(e) for e in page],
        "next": _next(known, page[-1]) if rest else None,
    }
    return _document(request, body, final=False)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _next(known: dt.datetime, last: Entry) -> str:
    start, end, key, dossier, event_id = fold_order(last.envelope)
    state = [known.isoformat(), start.isoformat(), end.isoformat(), key, dossier, str(event_id)]
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def _cursor(text: str) -> tuple[dt.datetime, SortKey]:
    """The transaction time and the last entry's sort key a cursor holds."""
    try:
        known, start, end, key, dossier, event_id = orjson.loads(
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        )
        times = [dt.datetime.fromisoformat(t) for t in (known, start, end)]
        if any(t.tzinfo is None for t in times) or not isinstance(key, str):
            raise ValueError(text)
        if not isinstance(event_id, str) or not isinstance(dossier, str):
            raise TypeError(text)
        return times[0], (times[1], times[2], key, dossier, uuid.UUID(event_id))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as err:
        detail = "cursor: expected the `next` of an earlier page"
        raise Problem(400, "invalid-cursor", "Invalid cursor", detail) from err


# -- dossiers ---------------------------------------------------------------------------


@router.get(
    "/api/dossiers",
    summary="The dossiers the store holds",
    responses=documented(documents.DOSSIERS),
)
def dossiers(request: Request, svc: Service) -> Response:
    return _document(request, documents.dossiers_to_json(svc.timeline.dossiers()), final=False)


@router.get(
    "/api/dossiers/{name}",
    summary="One dossier: its declared actors, items and issues, sources and counts",
    responses=documented(documents.DOSSIER, 404),
)
def dossier(request: Request, svc: Service, name: str) -> Response:
    found = svc.timeline.dossier(name)
    return _document(request, documents.dossier_to_json(found), final=False)


# -- writing ----------------------------------------------------------------------------


@router.post(
    "/api/import",
    summary="Import one dossier file (YAML or JSON Lines), all or nothing",
    responses=documented(documents.IMPORT, 401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {kind: {"schema": {"type": "string"}} for kind in FORMATS},
        }
    },
)
async def import_(
    request: Request,
    svc: Service,
    name: Annotated[str, Query(max_length=200, description="The file's name, in errors.")] = (
        "request body"
    ),
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Validate the dossier, append it in one transaction, and bring the read models up
    to it before answering. Needs the server's write token as a bearer token."""
    _authorised(svc.settings.write_token, authorization)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form = FORMATS.get(kind)
    if form is None:
        detail = f"expected a dossier as one of {', '.join(FORMATS)}, got {kind or 'nothing'}"
        raise Problem(415, "unsupported-media-type", "Unsupported media type", detail)
    body = await _body(request, svc.settings.max_body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Problem(400, "invalid-body", "Invalid body", "expected UTF-8 text") from err

    def work() -> tuple[Any, int]:
        dossier_file = dossier_files.read_text(name, text, form)
        report = svc.timeline.import_dossiers([dossier_file])
        svc.timeline.projector.catch_up()
        return report, svc.timeline.store.head()

    report, position = await run_in_threadpool(work)
    return _document(request, documents.import_to_json(report, position), final=False)


def _authorised(token: str | None, authorization: str | None) -> None:
    """The bearer token must be the server's, compared in constant time."""
    if token is None:
        detail = "this server is read-only: start it with --write-token to import"
        raise Problem(403, "read-only", "Read-only server", detail)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        found = Problem(401, "missing-token", "Missing token", "expected Authorization: Bearer")
        found.headers["WWW-Authenticate"] = 'Bearer realm="timeline"'
        raise found
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Problem(
            403, "wrong-token", "Wrong token", "the write token given is not this server's"
        )


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused once it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and POSITION.fullmatch(declared) and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> Problem:
    detail = f"the body is larger than this server takes ({limit:,} bytes)"
    return Problem(413, "body-too-large", "Body too large", detail)


# -- the live feed and health -------------------------------------------------------------


@router.get(
    "/api/stream",
    summary="Server-Sent Events: every event appended after a position, then live",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`appended` messages (id: the position; data: the event) and "
            "`projected` messages (data: the position the read models reflect).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def stream(
    svc: Service,
    after: Annotated[int, Query(ge=0, description="The last position already seen.")] = 0,
    last_event_id: Annotated[
        str | None, Header(description="Sent by a reconnecting EventSource; wins over `after`.")
    ] = None,
) -> StreamingResponse:
    if last_event_id is not None:
        if not POSITION.fullmatch(last_event_id.strip()):
            detail = "Last-Event-ID: expected the position of the last event received"
            raise Problem(400, "invalid-parameter", "Invalid parameter", detail)
        after = int(last_event_id)
    return StreamingResponse(
        svc.feed.subscribe(after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/healthz",
    summary="Whether the database answers, and how far the read models lag",
    responses=documented(documents.HEALTH, 503),
)
def healthz(request: Request, svc: Service) -> Response:
    store = svc.timeline.store
    with store.engine.connect() as conn:
        projected = checkpoint(conn)
    body = documents.health_to_json(store.head(), projected, svc.started.is_set())
    return _document(request, body, final=False)
