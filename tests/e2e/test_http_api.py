"""`timeline serve` as a web developer meets it: a real uvicorn process on a free port,
on SQLite and PostgreSQL. The seed's golden facts through the API are in
`test_seed_golden.py`; the whole OpenAPI document is fuzzed in `test_openapi_fuzz.py`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import orjson
import pytest

from tests.e2e.conftest import DOSSIER, SEED
from tests.serving import TOKEN, Server, serving
from timeline.interfaces.cli import main
from timeline.interfaces.server.documents import schema_of

PROBLEM = "application/problem+json"
NOW = "2024-01-01T00:00:00+00:00"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as found:
        yield found


def _problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == (f"/problems/{kind}" if kind else "about:blank")
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


def _valid(response: httpx.Response) -> dict[str, Any]:
    """The body of a 200, checked against the schema its `schema` field names."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    jsonschema.validate(body, schema_of(body["schema"]))
    return body


def test_every_document_matches_its_schema(client: httpx.Client) -> None:
    """State, diff, history, log, dossiers and health validate against the schemas the
    OpenAPI document publishes."""
    state = _valid(client.get("/api/state", params={"as_of": "2023-01-26"}))
    assert {p["actor"] for p in state["positions"]} >= {"DEU", "USA", "GBR"}
    diff = _valid(client.get("/api/diff", params={"from": "2023-01-20", "to": "2023-01-26"}))
    assert diff["changes"]
    _valid(client.get("/api/history/positions/DEU/mbt-for-ukraine"))
    _valid(client.get("/api/log", params={"limit": 5}))
    listing = _valid(client.get("/api/dossiers"))
    assert [d["dossier"] for d in listing["dossiers"]] == [DOSSIER]
    health = _valid(client.get("/healthz"))
    assert health["head"] == health["projected"] > 0
    assert health["lag"] == 0
    waited = time.monotonic()
    while not health["started"]:  # the follower prepares the log's corrections first
        assert time.monotonic() - waited < 60, health
        time.sleep(0.05)
        health = _valid(client.get("/healthz"))


def test_errors_are_problem_details(client: httpx.Client) -> None:
    """What a client gets wrong is a 4xx problem that says what: never a 500."""
    body = _problem(client.get("/api/state", params={"as_of": "2023-13-01"}), 400, "invalid-date")
    assert body["detail"].startswith("as_of: expected a date")
    body = _problem(client.get("/api/state", params={"dossier": "ukraine"}), 404, "unknown-name")
    assert "did you mean ukraine-mbt-2023" in body["detail"]
    _problem(client.get("/api/state", params={"section": "tanks"}), 400, "invalid-parameter")
    wrong_order = client.get("/api/diff", params={"from": "2023-01-26", "to": "2023-01-20"})
    assert (
        "from 2023-01-26 comes after to 2023-01-20"
        in _problem(wrong_order, 400, "invalid-date")["detail"]
    )
    _problem(client.get("/api/diff", params={"from": "2023-01-26"}), 400, "invalid-parameter")
    _problem(client.get("/api/history/positions/DEU/nothing"), 404, "unknown-item")
    _problem(client.get("/api/dossiers/nothing"), 404, "unknown-name")
    _problem(client.get("/api/log", params={"limit": "many"}), 400, "invalid-parameter")
    _problem(client.get("/api/log", params={"limit": 0}), 400, "invalid-parameter")
    _problem(client.get("/api/log", params={"cursor": "not-a-cursor"}), 400, "invalid-cursor")
    _problem(client.get("/api/log", params={"type": "tank.sent"}), 400, "invalid-parameter")
    _problem(client.get("/api/stream", headers={"Last-Event-ID": "x"}), 400, "invalid-parameter")
    for last in ("9" * 5000, "\u00b2"):  # int() refuses the first; "²".isdigit() is true
        asked = client.get("/api/stream", headers={"Last-Event-ID": last.encode("latin-1")})
        _problem(asked, 400, "invalid-parameter")
    odd = base64.urlsafe_b64encode(orjson.dumps([NOW, NOW, NOW, "k", "d", 5])).decode()
    _problem(client.get("/api/log", params={"cursor": odd}), 400, "invalid-cursor")
    _problem(client.get("/api/dossiers/a%00b"), 404, "unknown-name")  # not a query
    _problem(client.get("/nothing"), 404, "")
    _problem(client.delete("/api/state"), 405, "")


def test_a_final_answer_has_a_strong_etag(client: httpx.Client) -> None:
    """As known at a time no later than the last recorded event, an answer never changes:
    a strong ETag, a year of caching, and 304 when the client has it. As known now, it
    may change: no ETag."""
    last = "2025"  # the seed was recorded when the suite started, later than that
    params = {"as_of": "2023-01-26", "known_at": last}
    first = client.get("/api/state", params=params)
    tag = first.headers["etag"]
    assert tag.startswith('"')
    assert "immutable" in first.headers["cache-control"]
    again = client.get("/api/state", params=params, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    changed = client.get("/api/state", params=params, headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert changed.content == first.content
    now = client.get("/api/state", params={"as_of": "2023-01-26"})
    assert "etag" not in now.headers
    assert now.headers["cache-control"] == "no-cache"
    later = client.get("/api/state", params={"as_of": "2023-01-26", "known_at": "2999"})
    assert "etag" not in later.headers  # the future may still bring events recorded before it
    diff = client.get(
        "/api/diff", params={"from": "2023-01-20", "to": "2023-01-26", "known_at": last}
    )
    assert "etag" in diff.headers
    history = client.get("/api/history/positions/DEU/mbt-for-ukraine", params={"known_at": last})
    assert "etag" in history.headers


def test_the_log_pages_through_every_event_once(server: Server, client: httpx.Client) -> None:
    """Following `next` from page to page gives the CLI's log, each event once, in order."""
    keys: list[str] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        page = _valid(client.get("/api/log", params=params))
        assert len(page["events"]) <= 4
        keys += [e["key"] for e in page["events"]]
        if page["next"] is None:
            break
        params = {"limit": 4, "cursor": page["next"]}
    expected = _cli_json("log", "--db", _db_of(server))
    assert keys == [e["key"] for e in expected["events"]]
    raw = _valid(client.get("/api/log", params={"raw": "true", "type": "dossier.declared"}))
    assert [e["type"] for e in raw["events"]] == ["dossier.declared"]
    deu = _valid(client.get("/api/log", params={"actor": "DEU", "from": "2023-01-24"}))
    assert deu["events"]
    assert all("DEU" in json.dumps(e["payload"]) for e in deu["events"])


def test_a_dossier_lists_its_names_sources_and_counts(client: httpx.Client) -> None:
    found = _valid(client.get(f"/api/dossiers/{DOSSIER}"))
    assert found["title"] == "Western main battle tanks for Ukraine"
    items = {i["code"]: i["category"] for i in found["items"]}
    assert items["leopard-2a6"] == "main-battle-tank"
    assert "mbt-for-ukraine" in {i["code"] for i in found["issues"]}
    publishers = {s["name"] for s in found["sources"]}
    assert "CNN" in publishers
    types = {t["name"]: t["count"] for t in found["types"]}
    assert types["dossier.declared"] == 1
    assert sum(types.values()) == found["events"]


def test_many_clients_at_once_are_all_answered(server: Server) -> None:
    """More concurrent requests than the server answers at once wait their turn: none
    fails for want of a database connection."""
    paths = ["/api/state?as_of=2023-01-26", "/api/dossiers/ukraine-mbt-2023", "/healthz"]

    async def ask_all() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            answers = await asyncio.gather(*(client.get(paths[i % 3]) for i in range(120)))
        return [answer.status_code for answer in answers]

    assert set(asyncio.run(ask_all())) == {200}


def test_openapi_and_docs_are_served(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert set(document["paths"]) >= {
        "/api/state",
        "/api/diff",
        "/api/log",
        "/api/history/{section}/{key}",
        "/api/dossiers",
        "/api/dossiers/{name}",
        "/api/import",
        "/api/stream",
        "/healthz",
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):  # FastAPI's own 422 shape is gone
                    assert list(response["content"]) == ["application/problem+json"]
    assert "swagger" in client.get("/docs").text.lower()


# -- writing -----------------------------------------------------------------------------


JSONL_HEADER = '{"dossier": "d", "title": "t", "actors": {}, "items": {}, "issues": {"x": "X"}}'
JSONL_EVENT = (
    '{"key": "a", "type": "statement.issued", "occurred": "2023-01-25", "actor": "DEU",'
    ' "tone": "neutral", "summary": "s", "sources": [{"publisher": "P",'
    ' "published": "2023-01-25", "quote": "q"}]}'
)
BAD_EVENT = """
  - key: pol-pledge-nothing
    type: pledge.announced
    occurred: 2023-01-27
    donor: POL
    recipient: UKR
    item: leopard-2
    issue: mbt-for-ukraine
    quantity: lots
    sources:
      - publisher: CNN
        published: 2023-01-27
        quote: "Poland will send lots."
"""


def test_import_needs_the_token(fresh_url: str) -> None:
    assert main(["init", "--db", fresh_url]) == 0
    body = SEED.read_bytes()
    yaml = {"Content-Type": "application/yaml"}
    with serving(fresh_url) as server, server.client() as client:
        missing = client.post("/api/import", content=body, headers=yaml)
        _problem(missing, 401, "missing-token")
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = {**yaml, "Authorization": "Bearer guess"}
        _problem(client.post("/api/import", content=body, headers=wrong), 403, "wrong-token")
        assert client.get("/healthz").json()["head"] == 0
    with serving(fresh_url, token=None) as server, server.client() as client:
        read_only = client.post("/api/import", content=body, headers={**yaml, **AUTH})
        _problem(read_only, 403, "read-only")


def test_an_import_is_all_or_nothing(fresh_url: str) -> None:
    """A dossier with one bad event appends nothing and says where; a good one is
    appended, readable at once, and appends nothing the second time."""
    assert main(["init", "--db", fresh_url]) == 0
    good = SEED.read_text(encoding="utf-8")
    bad = good.rstrip() + "\n" + BAD_EVENT
    with serving(fresh_url) as server, server.client() as client:
        yaml = {"Content-Type": "application/yaml", **AUTH}
        refused = client.post(
            "/api/import", content=bad.encode(), headers=yaml, params={"name": "mine.yaml"}
        )
        body = _problem(refused, 422, "invalid-dossier")
        assert body["file"] == "mine.yaml"
        assert body["key"] == "pol-pledge-nothing"
        assert body["field"] == "quantity"
        assert body["line"] == bad.splitlines().index("    quantity: lots") + 1
        assert client.get("/healthz").json()["head"] == 0
        assert client.get("/api/dossiers").json()["dossiers"] == []

        report = _valid(client.post("/api/import", content=good.encode(), headers=yaml))
        assert report["appended"] == {DOSSIER: 25}
        state = client.get("/api/state", params={"as_of": "2023-01-26", "actor": "DEU"})
        assert state.json()["positions"][0]["stance"] == "committed"
        again = _valid(client.post("/api/import", content=good.encode(), headers=yaml))
        assert again["appended"] == {DOSSIER: 0}
        assert again["unchanged"] == {DOSSIER: 25}

        lines = "\n".join([JSONL_HEADER, JSONL_EVENT]).encode()
        jsonl = {"Content-Type": "application/x-ndjson", **AUTH}
        report = _valid(client.post("/api/import", content=lines, headers=jsonl))
        assert report["appended"] == {"d": 1}
        assert report["position"] == client.get("/healthz").json()["projected"]
        wrong_type = {"Content-Type": "text/csv", **AUTH}
        _problem(
            client.post("/api/import", content=b"a,b", headers=wrong_type),
            415,
            "unsupported-media-type",
        )
        _problem(
            client.post("/api/import", content=b"\xff\xfe", headers=jsonl), 400, "invalid-body"
        )


def test_a_body_over_the_limit_is_refused(fresh_url: str) -> None:
    assert main(["init", "--db", fresh_url]) == 0
    with (
        serving(fresh_url, options=["--max-body", "1000"]) as server,
        server.client() as client,
    ):
        headers = {"Content-Type": "application/yaml", **AUTH}
        too_large = client.post("/api/import", content=SEED.read_bytes(), headers=headers)
        _problem(too_large, 413, "body-too-large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
            yield from (SEED.read_bytes()[i : i + 500] for i in range(0, 5000, 500))

        streamed = client.post("/api/import", content=chunks(), headers=headers)
        _problem(streamed, 413, "body-too-large")
        assert client.get("/healthz").json()["head"] == 0


def test_cors_is_closed_unless_an_origin_is_named(fresh_url: str) -> None:
    assert main(["init", "--db", fresh_url]) == 0
    origin = "https://newsroom.example"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    with serving(fresh_url) as server, server.client() as client:
        response = client.options("/api/state", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
        assert (
            "access-control-allow-origin"
            not in client.get("/healthz", headers={"Origin": origin}).headers
        )
    with (
        serving(fresh_url, options=["--cors-origin", origin]) as server,
        server.client() as client,
    ):
        response = client.options("/api/state", headers=preflight)
        assert response.headers["access-control-allow-origin"] == origin
        other = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


def test_several_workers_answer_as_one(fresh_url: str) -> None:
    """With --workers 2 an import through one process is read, settled, through all."""
    assert main(["init", "--db", fresh_url]) == 0
    yaml = {"Content-Type": "application/yaml", **AUTH}
    with serving(fresh_url, options=["--workers", "2"]) as server, server.client() as client:
        _valid(client.post("/api/import", content=SEED.read_bytes(), headers=yaml))
        for _ in range(20):  # new connections: spread over both processes
            with server.client() as fresh:
                state = _valid(fresh.get("/api/state", params={"as_of": "2023-01-26"}))
                assert {p["actor"] for p in state["positions"]} >= {"DEU", "USA", "GBR"}
        assert server.log.count("Started server process") == 2, server.log


def test_serve_refuses_a_database_without_the_schema(fresh_url: str) -> None:
    """An uninitialised database is one clear error line and a non-zero exit."""
    with pytest.raises(AssertionError, match="run `timeline init`"), serving(fresh_url):
        pass


def _db_of(server: Server) -> str:
    command = server.process.args
    assert isinstance(command, list)
    return str(command[command.index("--db") + 1])


def _cli_json(*argv: str) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--format", "json"]) == 0
    return json.loads(out.getvalue())
