"""The API's JSON documents: how they are written, and their schemas for OpenAPI.

State, diff and history are `projections.export`'s documents, their schemas
derived from the item types (`projections.schemas`). The log is the CLI's
`timeline.log/2` with the cursor of its next page. The documents only the
API has (dossiers, an import's report, health) are written here, beside
their schemas, so the two are read together.
"""

from __future__ import annotations

from typing import Any

from projections import schemas
from projections.export import instant
from timeline.engine import ImportReport
from timeline.interfaces.render import LOG_SCHEMA
from timeline.readmodels.catalogue import Declared, Dossier, Summary

JSON = dict[str, Any]
DOSSIERS = "timeline.dossiers/1"
DOSSIER = "timeline.dossier/1"
IMPORT = "timeline.import/1"
HEALTH = "timeline.health/1"

_STRING = {"type": "string"}
_COUNT = {"type": "integer", "minimum": 0}
_INSTANT = schemas.INSTANT
_NULLABLE_INSTANT = {"anyOf": [_INSTANT, {"type": "null"}]}


def _object(properties: JSON, optional: tuple[str, ...] = ()) -> JSON:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


SOURCE = _object(
    {
        "publisher": _STRING,
        "published": {"type": "string", "format": "date"},
        "quote": _STRING,
        "title": _STRING,
        "url": _STRING,
    },
    optional=("title", "url"),
)
EVENT = _object(
    {
        "id": {"type": "string", "format": "uuid"},
        "key": _STRING,
        "dossier": _STRING,
        "type": _STRING,
        "schema_version": {"type": "integer"},
        "occurred": _STRING,
        "occurred_start": _STRING,
        "occurred_end": _STRING,
        "precision": _STRING,
        "recorded": {"anyOf": [_STRING, {"type": "null"}]},
        "position": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "version": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "payload": {"type": "object"},
        "sources": {"type": "array", "items": SOURCE},
        "cameo": {"anyOf": [_STRING, {"type": "null"}]},
        "plover": {"anyOf": [_STRING, {"type": "null"}]},
    }
)
"""One envelope, as `events.codec.envelope_to_dict` writes it."""

LOG_ENTRY = {
    **EVENT,
    "properties": {
        **EVENT["properties"],
        "corrected_by": {"type": "array", "items": schemas.REF},
        "retracted_by": {"type": "array", "items": schemas.REF},
    },
    "required": [*EVENT["required"], "corrected_by", "retracted_by"],
}


def schema_of(name: str) -> JSON:
    """The schema of the document `name` (as in its `schema` field)."""
    return SCHEMAS[name]()


def _log() -> JSON:
    return _object(
        {
            "schema": {"const": LOG_SCHEMA},
            "events": {"type": "array", "items": LOG_ENTRY},
            "next": {"anyOf": [_STRING, {"type": "null"}]},
        }
    )


def _summary_schema() -> JSON:
    return _object(
        {
            "dossier": _STRING,
            "title": {"anyOf": [_STRING, {"type": "null"}]},
            "events": _COUNT,
            "first_recorded": _INSTANT,
            "last_recorded": _INSTANT,
        }
    )


def _dossiers() -> JSON:
    return _object(
        {
            "schema": {"const": DOSSIERS},
            "dossiers": {"type": "array", "items": _summary_schema()},
        }
    )


def _dossier() -> JSON:
    name = _object({"code": _STRING, "name": _STRING})
    item = _object({"code": _STRING, "name": _STRING, "category": _STRING})
    counted = {
        "type": "array",
        "items": _object({"name": _STRING, "count": _COUNT}),
    }
    return _object(
        {
            "schema": {"const": DOSSIER},
            **_summary_schema()["properties"],
            "actors": {"type": "array", "items": name},
            "items": {"type": "array", "items": item},
            "issues": {"type": "array", "items": name},
            "sources": counted,
            "types": counted,
        }
    )


def _import() -> JSON:
    by_dossier = {"type": "object", "additionalProperties": _COUNT}
    return _object(
        {
            "schema": {"const": IMPORT},
            "files": _COUNT,
            "appended": by_dossier,
            "unchanged": by_dossier,
            "position": _COUNT,
        }
    )


def _health() -> JSON:
    return _object(
        {
            "schema": {"const": HEALTH},
            "status": {"type": "string", "enum": ["ok"]},
            "database": {"type": "string", "enum": ["reachable"]},
            "head": _COUNT,
            "projected": _COUNT,
            "lag": _COUNT,
            "started": {
                "type": "boolean",
                "description": "whether the follower has caught up once since the server "
                "started, and prepared what page loads ask for",
            },
        }
    )


SCHEMAS = {
    "timeline.state/2": schemas.state_schema,
    "timeline.diff/2": schemas.diff_schema,
    "timeline.history/1": schemas.history_schema,
    LOG_SCHEMA: _log,
    DOSSIERS: _dossiers,
    DOSSIER: _dossier,
    IMPORT: _import,
    HEALTH: _health,
}


# -- the documents only the API writes ------------------------------------------------


def _summary(summary: Summary) -> JSON:
    return {
        "dossier": summary.dossier,
        "title": summary.title,
        "events": summary.events,
        "first_recorded": instant(summary.first_recorded),
        "last_recorded": instant(summary.last_recorded),
    }


def dossiers_to_json(found: list[Summary]) -> JSON:
    return {"schema": DOSSIERS, "dossiers": [_summary(s) for s in found]}


def _declared(names: tuple[Declared, ...], *, category: bool = False) -> list[JSON]:
    return [
        {"code": n.code, "name": n.name, **({"category": n.category or ""} if category else {})}
        for n in names
    ]


def dossier_to_json(found: Dossier) -> JSON:
    return {
        "schema": DOSSIER,
        **_summary(found.summary),
        "actors": _declared(found.actors),
        "items": _declared(found.items, category=True),
        "issues": _declared(found.issues),
        "sources": [{"name": name, "count": count} for name, count in found.sources],
        "types": [{"name": name, "count": count} for name, count in found.types],
    }


def import_to_json(report: ImportReport, position: int) -> JSON:
    return {
        "schema": IMPORT,
        "files": report.files,
        "appended": report.appended,
        "unchanged": report.unchanged,
        "position": position,
    }


def health_to_json(head: int, projected: int, started: bool) -> JSON:
    return {
        "schema": HEALTH,
        "status": "ok",
        "database": "reachable",
        "head": head,
        "projected": projected,
        "lag": max(0, head - projected),
        "started": started,
    }
