"""State and diffs as JSON-ready dicts: the versioned contract downstream apps read.

The shapes are documented in `docs/json-schema.md`; any change to them that
could break a reader bumps the number in `STATE_SCHEMA` / `DIFF_SCHEMA`.
Written out field by field rather than generated from the classes, so that
renaming an attribute can never silently change the contract.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from events import Occurred, Quantity
from projections.diff import Change, Diff
from projections.state import (
    Coalition,
    ConditionStatus,
    FormedCoalition,
    Item,
    Pledge,
    Position,
    Precedent,
    Pressure,
    Request,
    State,
    Total,
)

STATE_SCHEMA = "timeline.state/1"
DIFF_SCHEMA = "timeline.diff/1"

JSON = dict[str, Any]


def _instant(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a "Z", as `Occurred` prints instants."""
    if value is None:
        return None
    utc = value.astimezone(dt.UTC)
    return dt.datetime.combine(utc.date(), utc.time()).isoformat() + "Z"


def _occurred(value: Occurred | None) -> str | None:
    return None if value is None else str(value)


def _quantity(value: Quantity | None) -> int | str | None:
    return None if value is None else value.to_json()


def _condition(condition: ConditionStatus) -> JSON:
    return {
        "actor": condition.actor,
        "does": str(condition.does),
        "item": condition.item,
        "met": condition.met,
        "met_by": condition.met_by,
    }


def _formed(formed: FormedCoalition) -> JSON:
    return {
        "coalition": formed.coalition,
        "members": list(formed.members),
        "leads": list(formed.leads),
        "occurred": str(formed.occurred),
        "key": formed.key,
    }


def item_to_json(item: Item) -> JSON:
    """One state item as a dict; the same shape in a state and in a diff."""
    match item:
        case Position():
            return {
                "actor": item.actor,
                "issue": item.issue,
                "stance": str(item.stance),
                "since": str(item.since),
                "certain": item.certain,
                "conditions": [_condition(c) for c in item.conditions],
                "events": list(item.events),
                "pressed_by": list(item.pressed_by),
            }
        case Pledge():
            return {
                "donor": item.donor,
                "recipient": item.recipient,
                "item": item.item,
                "issue": item.issue,
                "category": item.category,
                "quantity": _quantity(item.quantity),
                "unknown": list(item.unknown),
                "delivered": _quantity(item.delivered),
                "delivered_unknown": list(item.delivered_unknown),
                "first_announced": _occurred(item.first_announced),
                "updated": str(item.updated),
                "certain": item.certain,
                "events": list(item.events),
            }
        case Total():
            return {
                "category": item.category,
                "low": item.low,
                "high": item.high,
                "unknown": list(item.unknown),
                "pledges": item.pledges,
                "events": list(item.events),
            }
        case Request():
            return {
                "dossier": item.dossier,
                "request": item.request,
                "requester": item.requester,
                "addressee": item.addressee,
                "issue": item.issue,
                "ask": item.ask,
                "item": item.item,
                "quantity": _quantity(item.quantity),
                "filed": str(item.filed),
                "status": item.status,
                "decided": _occurred(item.decided),
                "decided_by": item.decided_by,
                "certain": item.certain,
                "events": list(item.events),
            }
        case Precedent():
            return {
                "actor": item.actor,
                "issue": item.issue,
                "threshold": item.threshold,
                "by": item.by,
                "occurred": str(item.occurred),
                "certain": item.certain,
                "events": list(item.events),
            }
        case Pressure():
            return {
                "actor": item.actor,
                "target": item.target,
                "issue": item.issue,
                "count": item.count,
                "first": str(item.first),
                "last": str(item.last),
                "certain": item.certain,
                "events": list(item.events),
            }
        case Coalition():
            return {
                "issue": item.issue,
                "committed": list(item.committed),
                "formed": [_formed(f) for f in item.formed],
                "events": list(item.events),
            }


def state_to_json(state: State) -> JSON:
    """The state as a JSON-ready dict (`"schema": "timeline.state/1"`).

    Sections list items sorted by key, so equal states give equal text.
    """
    return {
        "schema": STATE_SCHEMA,
        "as_of": _instant(state.as_of),
        "known_at": _instant(state.known_at),
        "positions": [item_to_json(i) for i in state.positions],
        "pledges": [item_to_json(i) for i in state.pledges],
        "totals": [item_to_json(i) for i in state.totals],
        "requests": [item_to_json(i) for i in state.requests],
        "precedents": [item_to_json(i) for i in state.precedents],
        "pressure": [item_to_json(i) for i in state.pressure],
        "coalitions": [item_to_json(i) for i in state.coalitions],
    }


def change_to_json(change: Change) -> JSON:
    """One change, with the item before and after in the state's shape."""
    return {
        "section": change.section,
        "key": list(change.key),
        "kind": change.kind,
        "kinds": list(change.kinds),
        "events": list(change.events),
        "before": None if change.before is None else item_to_json(change.before),
        "after": None if change.after is None else item_to_json(change.after),
    }


def diff_to_json(d: Diff) -> JSON:
    """The diff as a JSON-ready dict (`"schema": "timeline.diff/1"`)."""
    return {
        "schema": DIFF_SCHEMA,
        "from": _instant(d.from_),
        "to": _instant(d.to),
        "from_known_at": _instant(d.from_known_at),
        "to_known_at": _instant(d.to_known_at),
        "changes": [change_to_json(c) for c in d.changes],
    }
