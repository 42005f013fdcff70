"""Hypothesis strategies for events, envelopes and whole dossier histories.

Histories play in a small world (a few actors, two issues, a handful of
items with categories) so that generated events collide often: the same
actor states, pledges and gets pressed; conditions wait for pledges that do
or do not come; corrections and retractions name earlier events. Every
envelope carries an aware UTC `recorded` time, strictly increasing in list
order like a store's, so `known_at` cuts histories the way the store would.

Import what you need: `histories()` for lists of envelopes, `envelopes()`
for single ones, `as_of_points()` and `known_at_points()` for cutoffs, and
`seed_history()` for the seed dossier's decisive facts built by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from events import (
    Ask,
    CoalitionFormed,
    Condition,
    ConsultationHeld,
    Decision,
    DeliveryReported,
    DossierDeclared,
    Envelope,
    Event,
    EventRetracted,
    Occurred,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    Quantity,
    RequestDecided,
    RequestFiled,
    Source,
    Stance,
    StatementIssued,
    ThreatIssued,
    Tone,
)
from events.codec import event_from_dict

DOSSIER = "test-dossier"
ACTORS = ("DEU", "USA", "GBR", "POL", "UKR")
ISSUES = ("mbt-for-ukraine", "ifv-for-ukraine")
ITEMS = {
    "leopard-2a6": "main-battle-tank",
    "m88": "recovery-vehicle",
    "abrams-training": "training",
}
UNDECLARED_ITEM = "mystery-kit"
"""An item no declaration names: its pledges total under "uncategorised"."""
CATEGORIES = ("main-battle-tank", "recovery-vehicle", "training", "support")
COALITION = "TANKS"
FIRST_DAY = dt.date(2022, 12, 19)
LAST_DAY = dt.date(2023, 2, 12)
RECORDED_FROM = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SOURCE = Source(publisher="Test Wire", published=dt.date(2023, 1, 25), quote="as generated")

_ZONES = (dt.UTC, dt.timezone(dt.timedelta(hours=5)), dt.timezone(dt.timedelta(hours=-5)))
_TEXT = st.sampled_from(("first tanks", "more time", "a long note", "n/a"))

# ---------------------------------------------------------------- values


def days() -> st.SearchStrategy[dt.date]:
    """Days of the generated world, a few weeks either side of the seed's."""
    return st.dates(FIRST_DAY, LAST_DAY)


def occurred_texts() -> st.SearchStrategy[str]:
    """`occurred` as written in dossiers, in every precision `Occurred.parse` reads."""
    instants = st.datetimes(
        min_value=dt.datetime.combine(FIRST_DAY, dt.time()),
        max_value=dt.datetime.combine(LAST_DAY, dt.time(23, 59)),
        timezones=st.sampled_from(_ZONES),
    ).map(lambda t: t.replace(microsecond=0).isoformat())
    weeks = st.integers(1, 6).map(lambda w: f"2023-W{w:02d}") | st.just("2022-W51")
    spans = st.tuples(days(), days()).map(
        lambda pair: f"{min(pair).isoformat()}/{max(pair).isoformat()}"
    ) | st.sampled_from(("2022-12/2023-01", "2023-W01/2023-W03", "2022/2023", "2023-01/2023-02-03"))
    return st.one_of(
        days().map(dt.date.isoformat),
        instants,
        weeks,
        st.sampled_from(("2022-12", "2023-01", "2023-02")),
        spans,
        st.just("2023"),
    )


def occurreds() -> st.SearchStrategy[Occurred]:
    """Valid times of every precision."""
    return occurred_texts().map(Occurred.parse)


def quantities() -> st.SearchStrategy[Quantity]:
    """Exact numbers, ranges and upper bounds."""
    return st.one_of(
        st.integers(0, 40).map(lambda n: Quantity(n, n)),
        st.tuples(st.integers(1, 20), st.integers(0, 10)).map(
            lambda p: Quantity(p[0], p[0] + p[1])
        ),
        st.integers(1, 20).map(lambda n: Quantity.parse(f"<{n}")),
    )


def as_of_points() -> st.SearchStrategy[dt.datetime]:
    """Valid-time cutoffs: the end of a day ("as of D") or any UTC instant."""
    return st.one_of(
        days().map(lambda d: Occurred.parse(d.isoformat()).end),
        st.datetimes(
            min_value=dt.datetime.combine(FIRST_DAY, dt.time()),
            max_value=dt.datetime.combine(LAST_DAY, dt.time(23, 59)),
            timezones=st.just(dt.UTC),
        ),
    )


def recorded_times() -> st.SearchStrategy[dt.datetime]:
    """Aware UTC instants over the span histories are recorded in."""
    return st.datetimes(
        min_value=RECORDED_FROM.replace(tzinfo=None),
        max_value=(RECORDED_FROM + dt.timedelta(days=3)).replace(tzinfo=None),
        timezones=st.just(dt.UTC),
    )


def known_at_points() -> st.SearchStrategy[dt.datetime | None]:
    """Transaction-time cutoffs over the span histories are recorded in, or None."""
    return st.none() | recorded_times()


# ---------------------------------------------------------------- events


def declaration(categories: dict[str, str] | None = None) -> DossierDeclared:
    """The world's header as a `dossier.declared` event."""
    items = ITEMS if categories is None else categories
    return DossierDeclared(
        title="Generated dossier",
        actors=((COALITION, "Tank coalition"),),
        items=tuple((code, code.title(), category) for code, category in sorted(items.items())),
        issues=tuple((issue, issue) for issue in ISSUES),
    )


_KINDS = (
    ["position.stated"] * 5
    + ["pledge.announced"] * 5
    + ["pressure.applied"] * 2
    + ["request.filed"] * 2
    + ["request.decided"] * 2
    + ["precedent.set", "delivery.reported", "coalition.formed", "dossier.declared"]
    + ["statement.issued", "consultation.held", "threat.issued"]
    + ["event.corrected"] * 2
    + ["event.retracted"] * 2
)
_FIXES = ("event.corrected", "event.retracted")


def _reference(draw: st.DrawFn, target: Envelope) -> str:
    """A reference to `target`: usually its key, sometimes its id, in any spelling."""
    spellings = (str(target.id), target.id.hex.upper(), f"urn:uuid:{target.id}")
    return draw(st.sampled_from((target.key, target.key, *spellings)))


def _changes(draw: st.DrawFn, target: Envelope, actors: Sequence[str]) -> dict[str, Any]:
    """Valid `changes` for a correction of `target`, as JSON-ready values."""
    options: dict[str, st.SearchStrategy[Any]] = {"occurred": occurred_texts()}
    items = (*ITEMS, UNDECLARED_ITEM)
    match target.event:
        case PositionStated():
            options["stance"] = st.sampled_from([str(s) for s in Stance])
        case PledgeAnnounced():
            options["quantity"] = st.none() | quantities().map(Quantity.to_json)
            options["item"] = st.sampled_from(items)
        case DeliveryReported():
            options["quantity"] = st.none() | quantities().map(Quantity.to_json)
        case RequestFiled():
            options["ask"] = st.sampled_from([str(a) for a in Ask])
        case RequestDecided():
            options["decision"] = st.sampled_from([str(d) for d in Decision])
        case PressureApplied():
            options["target"] = st.sampled_from(actors)
        case PrecedentSet():
            options["threshold"] = _TEXT
        case StatementIssued():
            options["tone"] = st.sampled_from([str(t) for t in Tone])
    names = draw(st.lists(st.sampled_from(sorted(options)), min_size=1, max_size=2, unique=True))
    return {name: draw(options[name]) for name in names}


def _event(
    draw: st.DrawFn, kind: str, actors: Sequence[str], earlier: Sequence[Envelope]
) -> Event | None:
    """One payload of `kind`; references name `earlier` envelopes. None: not possible yet."""
    actor = st.sampled_from(actors)
    issue = st.sampled_from(ISSUES)
    item = st.sampled_from((*ITEMS, UNDECLARED_ITEM))
    maybe_quantity = st.none() | quantities()
    match kind:
        case "position.stated":
            condition = st.none() | st.builds(
                Condition, actor=actor, item=st.none() | st.sampled_from(tuple(ITEMS))
            )
            return PositionStated(
                actor=draw(actor),
                issue=draw(issue),
                stance=draw(st.sampled_from(Stance)),
                condition=draw(condition),
            )
        case "pledge.announced":
            return PledgeAnnounced(
                donor=draw(actor),
                recipient="UKR",
                issue=draw(issue),
                item=draw(item),
                quantity=draw(maybe_quantity),
                total=draw(st.none() | st.none() | quantities()),
                eta=draw(st.none() | occurreds()),
                note=draw(st.none() | _TEXT),
            )
        case "pressure.applied":
            return PressureApplied(
                actors=tuple(draw(st.lists(actor, min_size=1, max_size=2, unique=True))),
                target=draw(actor),
                issue=draw(issue),
                note=draw(st.none() | _TEXT),
            )
        case "request.filed":
            return RequestFiled(
                requester=draw(actor),
                addressee=draw(st.sampled_from((*actors, "allies"))),
                issue=draw(issue),
                ask=draw(st.sampled_from(Ask)),
                item=draw(st.none() | item),
                quantity=draw(maybe_quantity),
            )
        case "request.decided":
            requests = [e for e in earlier if isinstance(e.event, RequestFiled)]
            if not requests:
                return None
            return RequestDecided(
                request=_reference(draw, draw(st.sampled_from(requests))),
                decision=draw(st.sampled_from(Decision)),
                by=draw(actor),
            )
        case "precedent.set":
            if not earlier:
                return None
            return PrecedentSet(
                actor=draw(actor),
                issue=draw(issue),
                threshold=draw(_TEXT),
                by=draw(st.sampled_from(earlier)).key,
            )
        case "delivery.reported":
            return DeliveryReported(
                donor=draw(actor),
                recipient="UKR",
                item=draw(item),
                quantity=draw(maybe_quantity),
                total=draw(st.none() | st.none() | quantities()),
            )
        case "coalition.formed":
            members = draw(st.lists(actor, min_size=1, max_size=3, unique=True))
            return CoalitionFormed(
                coalition=COALITION,
                members=tuple(members),
                leads=tuple(draw(st.lists(st.sampled_from(members), max_size=1))),
                issue=draw(issue),
            )
        case "dossier.declared":
            codes = draw(st.lists(st.sampled_from(tuple(ITEMS)), min_size=1, unique=True))
            return declaration({code: draw(st.sampled_from(CATEGORIES)) for code in codes})
        case "statement.issued":
            return StatementIssued(
                actor=draw(actor),
                issue=draw(st.none() | issue),
                tone=draw(st.sampled_from(Tone)),
                summary=draw(_TEXT),
            )
        case "consultation.held":
            participants = draw(st.lists(actor, min_size=1, max_size=3, unique=True))
            return ConsultationHeld(participants=tuple(participants), issue=draw(st.none() | issue))
        case "threat.issued":
            return ThreatIssued(
                actor=draw(actor), target=draw(actor), issue=draw(issue), summary=draw(_TEXT)
            )
        case "event.corrected":
            targets = [e for e in earlier if e.type not in _FIXES]
            if not targets:
                return None
            target = draw(st.sampled_from(targets))
            unknown = draw(st.integers(0, 9)) == 0
            reference = "no-such-event" if unknown else _reference(draw, target)
            changes = _changes(draw, target, actors)
            return event_from_dict(
                "event.corrected", 1, {"corrects": reference, "changes": changes}
            )
        case "event.retracted":
            # Anything earlier, corrections and retractions included: retracting
            # a correction undoes it, retracting a retraction restores its target.
            if not earlier:
                return None
            target = draw(st.sampled_from(earlier))
            return EventRetracted(retracts=_reference(draw, target), reason=draw(_TEXT))
    raise ValueError(f"no strategy for {kind!r}")


def _stored(envelope: Envelope, number: int, recorded: dt.datetime) -> Envelope:
    return attrs.evolve(envelope, recorded=recorded, position=number, version=number)


@st.composite
def histories(
    draw: st.DrawFn, *, min_size: int = 0, max_size: int = 20, dossier: str = DOSSIER
) -> list[Envelope]:
    """A valid dossier history as the store would return it, in recording order.

    It opens with the world's `dossier.declared`; keys are unique; `recorded`
    times are aware UTC and strictly increasing; references (decisions,
    precedents, corrections, retractions) name earlier events, except a few
    corrections naming an unknown key, which projections must ignore.
    """
    actors = draw(st.lists(st.sampled_from(ACTORS), min_size=3, max_size=5, unique=True))
    recorded = RECORDED_FROM + dt.timedelta(minutes=draw(st.integers(0, 60)))
    first = Envelope.new(
        dossier=dossier,
        key="declared",
        occurred=Occurred.parse("2022-12-01"),
        event=declaration(),
        sources=(SOURCE,),
    )
    history = [_stored(first, 1, recorded)]
    for index in range(draw(st.integers(min_size, max_size))):
        kind = draw(st.sampled_from(_KINDS))
        event = _event(draw, kind, actors, history)
        if event is None:
            continue
        recorded += dt.timedelta(minutes=draw(st.integers(1, 180)))
        envelope = Envelope.new(
            dossier=dossier,
            key=f"{kind.replace('.', '-')}-{index:02d}",
            occurred=draw(occurreds()),
            event=event,
            sources=(SOURCE,),
        )
        history.append(_stored(envelope, len(history) + 1, recorded))
    return history


DOSSIERS = (DOSSIER, "other-dossier", "third-dossier")
"""Dossiers of `archives`: each a history of its own, keys reused across them."""


@st.composite
def archives(
    draw: st.DrawFn, *, min_size: int = 0, max_size: int = 20, dossiers: int = 3
) -> list[Envelope]:
    """Histories of one to `dossiers` dossiers interleaved in recording order, as a
    store holding them all would return them.

    Each dossier's history is drawn alone (`histories`), so keys such as
    "pledge-announced-03" recur in several dossiers and name different
    events; positions are renumbered across them.
    """
    count = draw(st.integers(1, dossiers))
    parts = [
        draw(histories(min_size=min_size, max_size=max_size, dossier=name))
        for name in DOSSIERS[:count]
    ]
    merged = sorted(
        (e for part in parts for e in part),
        key=lambda e: (e.recorded, e.dossier, e.position),
    )
    return [attrs.evolve(e, position=number) for number, e in enumerate(merged, start=1)]


@st.composite
def split(draw: st.DrawFn, history: list[Envelope]) -> list[list[Envelope]]:
    """The history cut into consecutive batches of random sizes."""
    batches, rest = [], list(history)
    while rest:
        size = draw(st.integers(1, len(rest)))
        batches.append(rest[:size])
        rest = rest[size:]
    return batches


@st.composite
def envelopes(draw: st.DrawFn, *, dossier: str = DOSSIER) -> Envelope:
    """One valid envelope of any type; its references name made-up earlier keys."""
    kind = draw(st.sampled_from(sorted(set(_KINDS))))
    earlier = [
        Envelope.new(
            dossier=dossier,
            key=f"earlier-{n}",
            occurred=Occurred.parse("2023-01-01"),
            event=RequestFiled(requester="POL", addressee="DEU", issue=ISSUES[0], ask=Ask.SUPPLY),
        )
        for n in range(3)
    ]
    event = _event(draw, kind, ACTORS, earlier)
    assert event is not None  # every kind is possible with earlier events at hand
    envelope = Envelope.new(
        dossier=dossier,
        key=f"{kind.replace('.', '-')}-{draw(st.integers(0, 99)):02d}",
        occurred=draw(occurreds()),
        event=event,
        sources=(SOURCE,),
        id=draw(st.none() | st.uuids()),
    )
    if draw(st.booleans()):
        envelope = _stored(envelope, draw(st.integers(1, 10**6)), draw(recorded_times()))
    return envelope


# ---------------------------------------------------------------- the seed, by hand

SEED_DOSSIER = "ukraine-mbt-2023"
MBT = "mbt-for-ukraine"
SEED_SOURCE = Source(publisher="CNN", published=dt.date(2023, 1, 25), quote="as quoted")
SEED_RECORDED = dt.datetime(2023, 1, 26, 12, tzinfo=dt.UTC)


def as_of(day: str) -> dt.datetime:
    """ "As of D": the exclusive end of day D, as the engine reads a date."""
    return Occurred.parse(day).end


def stored(key: str, occurred: str, event: Event, minute: int = 0) -> Envelope:
    """An envelope of the seed dossier as stored `minute` minutes after SEED_RECORDED."""
    new = Envelope.new(
        dossier=SEED_DOSSIER,
        key=key,
        occurred=Occurred.parse(occurred),
        event=event,
        sources=(SEED_SOURCE,),
    )
    return attrs.evolve(new, recorded=SEED_RECORDED + dt.timedelta(minutes=minute))


def corrected(key: str, when: str, target: str, minute: int, /, **changes: Any) -> Envelope:
    """An `event.corrected` built through the codec, as the importer builds it."""
    event = event_from_dict("event.corrected", 1, {"corrects": target, "changes": changes})
    return stored(key, when, event, minute)


def pledge(
    donor: str, item: str, quantity: int | None = None, total: int | None = None
) -> PledgeAnnounced:
    """A pledge to Ukraine on the seed's issue, with exact numbers."""
    return PledgeAnnounced(
        donor=donor,
        recipient="UKR",
        issue=MBT,
        item=item,
        quantity=None if quantity is None else Quantity(quantity, quantity),
        total=None if total is None else Quantity(total, total),
    )


def seed_history() -> list[Envelope]:
    """The seed dossier's decisive facts, written by hand, in recording order.

    A fixed example mirroring `timeline/seed/ukraine-mbt-2023.yaml`: the UK's
    week-3 pledge and precedent, the US reluctance, Germany's condition,
    Poland's request and pressure, and the decisions of 25 January.
    """
    facts = [
        (
            "declared",
            "2023-01-01",
            DossierDeclared(
                title="Western main battle tanks for Ukraine",
                items=(
                    ("challenger-2", "Challenger 2", "main-battle-tank"),
                    ("leopard-2a6", "Leopard 2A6", "main-battle-tank"),
                    ("leopard-2", "Leopard 2", "main-battle-tank"),
                    ("m1-abrams", "M1 Abrams", "main-battle-tank"),
                    ("m88", "M88 recovery vehicle", "recovery-vehicle"),
                    ("abrams-training", "Abrams training", "training"),
                ),
                issues=((MBT, "Western main battle tanks for Ukraine"),),
            ),
        ),
        (
            "allies-press-deu-leopards",
            "2023-01-01/2023-01-24",
            PressureApplied(actors=("POL",), target="DEU", issue=MBT),
        ),
        ("gbr-pledge-challenger-2", "2023-W03", pledge("GBR", "challenger-2", 14)),
        (
            "gbr-precedent-mbt",
            "2023-W03",
            PrecedentSet(
                actor="GBR",
                issue=MBT,
                threshold="first Western main battle tanks for Ukraine",
                by="gbr-pledge-challenger-2",
            ),
        ),
        (
            "usa-position-abrams-not-now",
            "2023-W03",
            PositionStated(actor="USA", issue=MBT, stance=Stance.RELUCTANT),
        ),
        (
            "deu-position-leopard-if-abrams",
            "2023-W03",
            PositionStated(
                actor="DEU",
                issue=MBT,
                stance=Stance.CONDITIONAL,
                condition=Condition(actor="USA", item="m1-abrams"),
            ),
        ),
        (
            "pol-request-reexport-leopard-2",
            "2023-01-24",
            RequestFiled(
                requester="POL", addressee="DEU", issue=MBT, ask=Ask.RE_EXPORT, item="leopard-2"
            ),
        ),
        ("deu-pledge-leopard-2a6", "2023-01-25", pledge("DEU", "leopard-2a6", 14)),
        (
            "deu-approves-reexport",
            "2023-01-25",
            RequestDecided(
                request="pol-request-reexport-leopard-2", decision=Decision.APPROVED, by="DEU"
            ),
        ),
        ("usa-pledge-abrams", "2023-01-25", pledge("USA", "m1-abrams", 31)),
        ("usa-pledge-m88", "2023-01-25", pledge("USA", "m88", 8)),
        ("usa-pledge-abrams-training", "2023-01-25", pledge("USA", "abrams-training")),
    ]
    return [stored(key, when, event, minute) for minute, (key, when, event) in enumerate(facts)]
