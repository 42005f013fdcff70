"""PLOVER: the log as event-data records, one JSON object per line.

Records follow the PLOVER manual's data fields (draft 0.8, "PLOVER
JSON"): the required `id`, `date`, `actor` and `event`, and where known
`time`, `enddate`, `recipient`, `mode`, `context`, `quad_code`, `text` (the
source's words the record was coded from), `cite_info` and `comment` (what
the event says, in one line). Three fields are this engine's own and say
where a record comes from: `cameo` (the CAMEO code the PLOVER fields
follow from, see `events.coding`), `dossier` and `key`.

Who acts and who receives follows the event: the donor of a pledge acts
and its recipient receives; a decision on a request goes back to whoever
filed it (found in the same export, since a request comes before its
decision). An event PLOVER has no category for (a neutral statement, a
precedent) has no record; `records` counts them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from events import Envelope, Occurred, Precision
from events.coding import QUADS, cameo, plover
from events.vocabulary import (
    CoalitionFormed,
    ConsultationHeld,
    DeliveryReported,
    Event,
    PledgeAnnounced,
    PositionStated,
    PressureApplied,
    RequestDecided,
    RequestFiled,
    StatementIssued,
    ThreatIssued,
)
from timeline.exports.headlines import STATES, Names, headline, story
from timeline.log import Entry

JSON = dict[str, Any]


def _parties(
    event: Event, requesters: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Who acts and who receives, by the event's fields."""
    match event:
        case PressureApplied(actors=actors, target=target):
            return actors, (target,)
        case RequestFiled(requester=requester, addressee=addressee):
            return (requester,), (addressee,)
        case RequestDecided(by=by, request=request):
            return (by,), tuple(r for r in [requesters.get(request)] if r)
        case PledgeAnnounced(donor=donor, recipient=recipient):
            return (donor,), (recipient,)
        case DeliveryReported(donor=donor, recipient=recipient):
            return (donor,), (recipient,)
        case ThreatIssued(actor=actor, target=target):
            return (actor,), (target,)
        case PositionStated(actor=actor) | StatementIssued(actor=actor):
            return (actor,), ()
        case ConsultationHeld(participants=participants):
            return participants, ()
        case CoalitionFormed(members=members):
            return members, ()
    return (), ()


def _entities(codes: Iterable[str], name: Names) -> list[JSON]:
    return [{"code": code, "entity_text": name(code)} for code in codes]


def _when(occurred: Occurred) -> JSON:
    """`date` and `time` (an instant's, in UTC), `enddate` for more than a day."""
    start = occurred.start.astimezone(dt.UTC)
    when: JSON = {"date": start.date().isoformat()}
    if occurred.precision is Precision.INSTANT:
        when["time"] = start.strftime("%H:%M:%S") + "Z"
        return when
    last = (occurred.end - dt.timedelta(days=1)).date()
    if last > start.date():
        when["enddate"] = last.isoformat()
    return when


def record(envelope: Envelope, name: Names, requesters: Mapping[str, str]) -> JSON | None:
    """The PLOVER record of one fact; None where PLOVER has no category for it."""
    row = plover(envelope.event)
    if row is None:
        return None
    actors, recipients = _parties(envelope.event, requesters)
    found: JSON = {"id": str(envelope.id), **_when(envelope.occurred)}
    found["actor"] = _entities(actors, name)
    found["recipient"] = _entities(recipients, name)
    found["event"] = [row.event]
    found["mode"] = [row.mode] if row.mode else []
    found["context"] = list(row.contexts)
    found["quad_code"] = QUADS[row.event]
    if envelope.sources:
        first = envelope.sources[0]
        found["text"] = first.quote
        cite = {"publication": first.publisher, "title": first.title, "url": first.url}
        found["cite_info"] = {k: v for k, v in cite.items() if v is not None}
    found["comment"] = headline(envelope.event, name)
    if said := story(envelope.event):
        found["comment"] += f": {said}"
    found["cameo"] = cameo(envelope.event)
    found["dossier"], found["key"] = envelope.dossier, envelope.key
    return found


@attrs.define
class Records:
    """The records of a feed, and how many facts PLOVER has no category for."""

    entries: Iterable[Entry]
    names: Mapping[str, Names]
    """Each dossier's names (`headlines.namer`)."""
    uncoded: int = 0

    def __iter__(self) -> Iterator[JSON]:
        requesters: dict[str, dict[str, str]] = {}
        for entry in self.entries:
            envelope = entry.envelope
            filed = requesters.setdefault(envelope.dossier, {})
            if isinstance(envelope.event, RequestFiled):
                filed[envelope.key] = envelope.event.requester
            found = record(envelope, self.names.get(envelope.dossier, STATES), filed)
            if found is None:
                self.uncoded += 1
            else:
                yield found
