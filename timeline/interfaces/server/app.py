"""The ASGI application behind `timeline serve`: settings, lifecycle and OpenAPI.

The server owns two threads besides uvicorn's: the feed's reader
(`feed.Feed`) and a follower that keeps the read models caught up, so a
client's query rarely waits for projection and the feed can say how far
the read models have got. Reads still catch up first when they find the
read models behind (`Timeline`), so an answer is never older than the
store; the projector takes one thread at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterable
from importlib import metadata, resources
from typing import Any

import anyio.to_thread
import attrs
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from timeline.engine import Timeline
from timeline.interfaces.server import problems, routes
from timeline.interfaces.server.feed import Feed
from timeline.store import EventStore
from timeline.store.database import create_engine

log = logging.getLogger("timeline.server")
THREADS = 16
"""Requests answered at once (each in a thread: the engine is synchronous); more wait
their turn, so the connection pool below never runs dry."""
CONNECTIONS = 2 * THREADS + 4
"""A read on PostgreSQL may hold a second connection for its next page; the feed, its
listener and the follower hold their own."""
MAX_BODY = 16 * 1024 * 1024
"""The largest request body taken, in bytes: an import of some 50,000 events."""


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class Settings:
    """How the server runs: its database, who may write, who may call from a browser."""

    url: str
    write_token: str | None = None
    cors_origins: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    max_body: int = MAX_BODY
    poll: float = 0.1
    """Seconds between the feed's and the follower's checks on SQLite (PostgreSQL wakes
    them with NOTIFY, and this bounds how late the feed's `projected` messages are)."""


SETTINGS = "TIMELINE_SERVE_SETTINGS"
"""The environment variable that hands the settings to each worker process."""


def from_environment() -> FastAPI:
    """The application of one of `timeline serve --workers N`'s processes: uvicorn starts
    each by this import path, so the settings come as JSON through the environment."""
    return create_app(Settings(**json.loads(os.environ[SETTINGS])))


def to_environment(settings: Settings) -> None:
    os.environ[SETTINGS] = json.dumps(attrs.asdict(settings))


@attrs.define
class Service:
    """What the routes use, kept on the application's state."""

    settings: Settings
    timeline: Timeline
    feed: Feed
    started: threading.Event
    """Set once the follower has first caught up and prepared what page loads ask for."""


class Follower:
    """A thread applying new events to the read models as they commit.

    Once it has first caught up, it works out each dossier's corrected facts
    for the log (`Timeline.corrections`), which every page load asks for,
    and only then counts as `started` (`/healthz` says so): a server just
    started answers its first readers as fast as the next ones.
    """

    def __init__(self, timeline: Timeline, poll: float) -> None:
        self.timeline, self.poll = timeline, poll
        self.started = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timeline-projector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        # `follow` itself rides out a lost database. What else ends it is a failing
        # page, which would fail again: it is logged once, and reads still bring the
        # read models up to date themselves (and say why), as /healthz shows the lag.
        try:
            self.timeline.projector.follow(
                poll=self.poll, stop=self._stop.is_set, caught_up=self._caught_up
            )
        except Exception:
            log.exception("the projector's follower stopped")

    def _caught_up(self) -> None:
        if self.started.is_set():
            return
        for dossier in self.timeline.store.dossiers():
            self.timeline.corrections.fixed(dossier, None, retracted=False)
        self.started.set()


def create_app(settings: Settings) -> FastAPI:
    """The application on `settings.url`, whose schema must be current."""
    store = EventStore(
        create_engine(settings.url, pool_size=CONNECTIONS, max_overflow=0, pool_timeout=30)
    )
    timeline = Timeline(store)
    feed = Feed(store, poll=settings.poll)
    follower = Follower(timeline, settings.poll)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        feed.start()
        follower.start()
        try:
            yield
        finally:
            follower.stop()
            feed.stop()
            store.engine.dispose()

    app = FastAPI(
        title="Diplomatic timeline",
        version=metadata.version("diplomatic-timeline"),
        summary="Sourced diplomatic facts in; positions, diffs and histories out, "
        "as of any valid time and as known at any transaction time.",
        lifespan=lifespan,
    )
    app.state.service = Service(
        settings=settings, timeline=timeline, feed=feed, started=follower.started
    )
    problems.install(app)
    app.include_router(routes.router)
    page = resources.files("timeline.interfaces.server") / "page"
    app.mount("/page", StaticFiles(directory=str(page)), name="page")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The timeline page (`page/`): the dossier drawn from this API."""
        return FileResponse(str(page / "index.html"))

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "If-None-Match"],
            expose_headers=["ETag", "Link"],
        )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error answered as problem details.

    FastAPI documents a 422 with its own error shape for any route with
    parameters; this API answers invalid parameters with a 400 problem.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            unprocessable = responses.get("422")
            if unprocessable and problems.MEDIA_TYPE not in unprocessable.get("content", {}):
                del responses["422"]  # FastAPI's own: never answered
            for status in ("400", "503"):
                responses.setdefault(status, routes.problem())
    for name in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = document
    return document
