"""Reproducible synthetic histories, for benchmarks and property and crash tests.

The bundled seed dossier has a few dozen events; measuring the store and the
projections at a million, or killing a writer halfway through a long import,
needs histories that are large, shaped like real ones and valid by the
importer's rules (every code declared, every reference naming an earlier
event of the same dossier), and that are the same on every run. So
everything here derives from one `random.Random(seed)`: never the global
random state, never the clock, and a failing run replays exactly.

Histories are generated lazily, in recording order. To refer back, the
generator keeps only bounded random samples of earlier events per dossier,
never the history itself: a million-event run holds under a megabyte.

Valid time advances about a day per 30 events, so roughly 290 million
events reach the year 9999 and stop with an `OverflowError`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

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
    EventCorrected,
    EventRetracted,
    Occurred,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    Precision,
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
from timeline.dossiers.files import ANY_ALLY, DECLARED_AT

CATEGORIES = (
    "main-battle-tank",
    "artillery",
    "air-defence",
    "recovery-vehicle",
    "training",
    "support",
)
COALITIONS = 5
"""Coalition codes (C01...) every synthetic dossier declares besides its actors."""
DECLARATION_KEY = "declared"

# Shares of the facts (corrections and retractions have their own fractions):
# talk dominates a busy dossier, decisions and firsts are rare.
TYPE_WEIGHTS: dict[str, float] = {
    StatementIssued.type: 30,
    PositionStated.type: 22,
    PledgeAnnounced.type: 16,
    PressureApplied.type: 6,
    ConsultationHeld.type: 6,
    RequestFiled.type: 5,
    DeliveryReported.type: 4,
    RequestDecided.type: 3.5,
    ThreatIssued.type: 3,
    PrecedentSet.type: 1.5,
    CoalitionFormed.type: 0.5,
}

_DAY = dt.timedelta(days=1)
_MICROSECOND = dt.timedelta(microseconds=1)
_SECONDS_PER_EVENT = 86_400 / 30
# How many earlier events of each kind a dossier remembers to refer back to.
_TARGETS, _PLEDGES, _REQUESTS = 512, 256, 128

_STANCES = tuple(Stance)
_STANCE_WEIGHTS = (8, 14, 18, 18, 30, 12)
_TONES = tuple(Tone)
_TONE_WEIGHTS = (5, 3, 2)
_ASKS = tuple(Ask)
_ASK_WEIGHTS = (6, 2, 1, 1)
_DECISIONS = tuple(Decision)
_DECISION_WEIGHTS = (5, 2.5, 2.5)
_PUBLISHERS = (
    "Reuters",
    "AP",
    "AFP",
    "BBC",
    "DW",
    "Le Monde",
    "CNN",
    "Politico",
    "FT",
    "Kyiv Post",
)
_SUMMARIES = (
    "calls for faster deliveries",
    "welcomes the decision",
    "warns against escalation",
    "urges allies to act together",
    "defends its caution",
    "questions the timing",
    "says more is needed",
    "rules nothing out",
)
_NOTES = (
    "after weeks of talks",
    "in a joint letter",
    "behind closed doors",
    "at the ministerial meeting",
    "by phone",
    "ahead of the summit",
)
_THRESHOLDS = ("first to send", "first heavy armour", "first long-range systems", "first jets")
_CONDITIONS = ("subject to parliamentary approval", "from existing stocks", "after training")
_QUOTES = (
    "We will stand with our partners for as long as it takes.",
    "The decision was taken in close consultation with allies.",
    "Every step has to be weighed carefully, and it will be.",
    "We are not the ones holding this back; we are ready.",
    "This is a significant step, and more will follow soon.",
    "We need these systems now, not at some point next year.",
)

_T = TypeVar("_T")


def actor_codes(count: int) -> list[str]:
    """Synthetic actor codes, A001...: never ISO 3166-1 codes, so always declared."""
    return [f"A{n:03d}" for n in range(1, count + 1)]


def coalition_codes() -> list[str]:
    return [f"C{n:02d}" for n in range(1, COALITIONS + 1)]


def issue_codes(count: int) -> list[str]:
    return [f"issue-{n:02d}" for n in range(1, count + 1)]


def item_codes(count: int) -> list[str]:
    return [f"item-{n:03d}" for n in range(1, count + 1)]


def item_category(index: int) -> str:
    """The category of the item at `index` (0-based): a pure function, so no seed is needed."""
    return CATEGORIES[index % len(CATEGORIES)]


def declaration(dossier: str, *, actors: int, issues: int, items: int) -> Envelope:
    """The `dossier.declared` event naming every code a synthetic history uses.

    It carries the importer's valid time for declarations, so it holds at
    every as-of, and a fixed key, so declaring twice appends nothing.
    """
    declared = DossierDeclared(
        title=f"Synthetic dossier {dossier}",
        actors=tuple(
            [(code, f"Actor {code[1:]}") for code in actor_codes(actors)]
            + [(code, f"Coalition {code[1:]}") for code in coalition_codes()]
        ),
        items=tuple(
            (code, f"Item {code[5:]}", item_category(index))
            for index, code in enumerate(item_codes(items))
        ),
        issues=tuple((code, f"Issue {code[6:]}") for code in issue_codes(issues)),
    )
    return Envelope.new(dossier=dossier, key=DECLARATION_KEY, occurred=DECLARED_AT, event=declared)


def dossier_names(count: int) -> list[str]:
    return [f"synthetic-{n:02d}" for n in range(1, count + 1)]


class _Sample(Generic[_T]):
    """A bounded random sample of earlier events that later ones may name.

    Once full, a newcomer replaces a random entry, so the sample leans to
    recent events yet keeps some old ones, and memory never grows.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: list[_T] = []

    def __bool__(self) -> bool:
        return bool(self.entries)

    def add(self, rng: random.Random, entry: _T) -> None:
        if len(self.entries) < self.capacity:
            self.entries.append(entry)
        else:
            self.entries[rng.randrange(self.capacity)] = entry

    def pick(self, rng: random.Random) -> _T:
        return self.entries[rng.randrange(len(self.entries))]

    def take(self, rng: random.Random) -> _T:
        """Pick and remove, so the entry is never picked again."""
        index = rng.randrange(len(self.entries))
        self.entries[index], self.entries[-1] = self.entries[-1], self.entries[index]
        return self.entries.pop()

    def discard(self, keep: Callable[[_T], bool]) -> None:
        self.entries = [entry for entry in self.entries if keep(entry)]


class _Dossier:
    """What one dossier remembers of its past: samples to refer back to."""

    def __init__(self, name: str) -> None:
        self.name = name
        # Facts that corrections and retractions may name; a retracted one leaves.
        self.targets: _Sample[Envelope] = _Sample(_TARGETS)
        self.pledges: _Sample[Envelope] = _Sample(_PLEDGES)
        # Filed and not yet decided (as far as the generator decides them).
        self.requests: _Sample[Envelope] = _Sample(_REQUESTS)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _days(first: dt.date, last: dt.date, precision: Precision) -> Occurred:
    """Built directly, not parsed: `Occurred.parse` is too slow for millions."""
    return Occurred(_midnight(first), _midnight(last) + _DAY, precision)


def _month(year: int, month: int) -> Occurred:
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return Occurred(
        dt.datetime(year, month, 1, tzinfo=dt.UTC),
        dt.datetime(*following, 1, tzinfo=dt.UTC),
        Precision.MONTH,
    )


class _Generator:
    """One history's random choices, in the order that makes it reproducible."""

    def __init__(
        self,
        *,
        seed: int,
        actors: int,
        issues: int,
        items: int,
        start: str,
        late_fraction: float,
        correction_fraction: float,
        retraction_fraction: float,
    ) -> None:
        self.rng = random.Random(seed)
        self.actors = actor_codes(actors)
        # The first percent of actors receive; like Ukraine in the seed, they
        # are also the ones who ask.
        self.recipients = tuple(self.actors[: max(1, actors // 100)])
        self.coalitions = tuple(coalition_codes())
        self.issues = issue_codes(issues)
        self.items = item_codes(items)
        # A plain datetime: pendulum's arithmetic would double the generator's run time.
        self.now = dt.datetime.fromisoformat(Occurred.parse(start).start.isoformat())
        self.late_fraction = late_fraction
        self.correction_below = correction_fraction
        self.retraction_below = correction_fraction + retraction_fraction
        self.kinds = list(TYPE_WEIGHTS)
        self.cumulative = list(itertools.accumulate(TYPE_WEIGHTS.values()))
        self.builders: dict[str, Callable[[_Dossier], Event]] = {
            StatementIssued.type: self.statement,
            PositionStated.type: self.position,
            PledgeAnnounced.type: self.pledge,
            PressureApplied.type: self.pressure,
            ConsultationHeld.type: self.consultation,
            RequestFiled.type: self.request,
            DeliveryReported.type: self.delivery,
            RequestDecided.type: self.decision,
            ThreatIssued.type: self.threat,
            PrecedentSet.type: self.precedent,
            CoalitionFormed.type: self.coalition,
        }

    # -- codes and values ------------------------------------------------------

    def actor(self) -> str:
        """Skewed to the first codes: a few actors do most of the talking."""
        return self.actors[int(len(self.actors) * self.rng.random() ** 2)]

    def other(self, *excluded: str) -> str:
        while (actor := self.actor()) in excluded:
            pass
        return actor

    def some_actors(self, most: int) -> tuple[str, ...]:
        """Distinct actors, at least one, never all of them (someone is left to press)."""
        count = self.rng.randint(1, max(1, min(most, len(self.actors) - 1)))
        return tuple(dict.fromkeys(self.actor() for _ in range(count)))

    def issue(self) -> str:
        return self.issues[int(len(self.issues) * self.rng.random() ** 2)]

    def item(self) -> str:
        return self.items[self.rng.randrange(len(self.items))]

    def quantity(self) -> Quantity | None:
        """Mostly exact; some ranges ("10-14"), upper bounds ("<10") or no number."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.70:
            number = rng.randint(1, 40)
            return Quantity(number, number)
        if roll < 0.82:
            low = rng.randint(2, 30)
            return Quantity(low, low + rng.randint(2, 8))
        if roll < 0.88:
            return Quantity(0, rng.randint(2, 29))
        return None

    def text(self, choices: tuple[str, ...]) -> str:
        return choices[self.rng.randrange(len(choices))]

    # -- time ------------------------------------------------------------------

    def occurred(self) -> Occurred:
        """Near the current valid time, or weeks to months before it if recorded late.

        A late event is an instant or a day, so its whole interval ends
        weeks before the events around it: tests can tell it is late.
        """
        rng = self.rng
        self.now += dt.timedelta(seconds=rng.expovariate(1 / _SECONDS_PER_EVENT))
        if rng.random() < self.late_fraction:
            when = self.now - dt.timedelta(days=rng.uniform(14, 180))
            if rng.random() < 0.5:
                return _days(when.date(), when.date(), Precision.DAY)
            return self.instant(when)
        roll = rng.random()
        today = self.now.date()
        if roll < 0.40:
            return self.instant(self.now)
        if roll < 0.82:
            return _days(today, today, Precision.DAY)
        if roll < 0.89:
            monday = today - dt.timedelta(days=today.weekday())
            return _days(monday, monday + dt.timedelta(days=6), Precision.WEEK)
        if roll < 0.94:
            return _month(today.year, today.month)
        return _days(today - dt.timedelta(days=rng.randint(1, 20)), today, Precision.SPAN)

    @staticmethod
    def instant(when: dt.datetime) -> Occurred:
        """Whole seconds, so the text form ("...T10:15:00Z") reads back the same."""
        second = when.replace(microsecond=0)
        return Occurred(second, second + _MICROSECOND, Precision.INSTANT)

    def source(self) -> Source:
        """Published on the day the store learns of the event, as news is."""
        return Source(
            publisher=self.text(_PUBLISHERS),
            published=self.now.date(),
            quote=self.text(_QUOTES),
        )

    # -- facts -----------------------------------------------------------------

    def statement(self, _: _Dossier) -> Event:
        rng = self.rng
        return StatementIssued(
            actor=self.actor(),
            issue=self.issue() if rng.random() < 0.8 else None,
            tone=rng.choices(_TONES, _TONE_WEIGHTS)[0],
            summary=self.text(_SUMMARIES),
        )

    def position(self, _: _Dossier) -> Event:
        rng = self.rng
        actor = self.actor()
        stance = rng.choices(_STANCES, _STANCE_WEIGHTS)[0]
        condition = None
        if stance == Stance.CONDITIONAL and rng.random() < 0.7:
            condition = Condition(
                actor=self.other(actor), item=self.item() if rng.random() < 0.6 else None
            )
        return PositionStated(
            actor=actor,
            issue=self.issue(),
            stance=stance,
            condition=condition,
            note=self.text(_NOTES) if rng.random() < 0.3 else None,
        )

    def pledge(self, _: _Dossier) -> Event:
        rng = self.rng
        recipient = self.text(self.recipients)
        eta = None
        if rng.random() < 0.1:
            month = self.now.month + rng.randint(1, 6)
            eta = _month(self.now.year + (month - 1) // 12, (month - 1) % 12 + 1)
        return PledgeAnnounced(
            donor=self.other(recipient),
            recipient=recipient,
            issue=self.issue(),
            item=self.item(),
            quantity=self.quantity(),
            total=self.quantity() if rng.random() < 0.03 else None,
            eta=eta,
            conditions=(self.text(_CONDITIONS),) if rng.random() < 0.05 else (),
            note=self.text(_NOTES),
        )

    def pressure(self, _: _Dossier) -> Event:
        pressing = self.some_actors(4)
        return PressureApplied(
            actors=pressing,
            target=self.other(*pressing),
            issue=self.issue(),
            note=self.text(_NOTES),
        )

    def consultation(self, _: _Dossier) -> Event:
        rng = self.rng
        return ConsultationHeld(
            participants=self.some_actors(5),
            issue=self.issue() if rng.random() < 0.7 else None,
            note=self.text(_NOTES) if rng.random() < 0.5 else None,
        )

    def request(self, _: _Dossier) -> Event:
        rng = self.rng
        requester = self.text(self.recipients) if rng.random() < 0.8 else self.actor()
        has_item = rng.random() < 0.7
        return RequestFiled(
            requester=requester,
            addressee=ANY_ALLY if rng.random() < 0.1 else self.other(requester),
            issue=self.issue(),
            ask=rng.choices(_ASKS, _ASK_WEIGHTS)[0],
            item=self.item() if has_item else None,
            quantity=self.quantity() if has_item and rng.random() < 0.5 else None,
        )

    def delivery(self, dossier: _Dossier) -> Event:
        """Of something pledged earlier: deliveries follow pledges."""
        pledged = dossier.pledges.pick(self.rng).event
        assert isinstance(pledged, PledgeAnnounced)  # only pledges are sampled
        return DeliveryReported(
            donor=pledged.donor,
            recipient=pledged.recipient,
            item=pledged.item,
            quantity=self.quantity(),
            total=self.quantity() if self.rng.random() < 0.05 else None,
        )

    def decision(self, dossier: _Dossier) -> Event:
        """Decides an open request once, by its addressee (anyone, if it asked all allies)."""
        filed = dossier.requests.take(self.rng)
        assert isinstance(filed.event, RequestFiled)  # only requests are sampled
        addressee = filed.event.addressee
        return RequestDecided(
            request=filed.key,
            decision=self.rng.choices(_DECISIONS, _DECISION_WEIGHTS)[0],
            by=self.actor() if addressee == ANY_ALLY else addressee,
        )

    def threat(self, _: _Dossier) -> Event:
        actor = self.actor()
        return ThreatIssued(
            actor=actor,
            target=self.other(actor),
            issue=self.issue() if self.rng.random() < 0.5 else None,
            summary=self.text(_SUMMARIES),
        )

    def precedent(self, dossier: _Dossier) -> Event:
        """Set by an earlier pledge, whose donor crossed the threshold."""
        by = dossier.pledges.pick(self.rng)
        assert isinstance(by.event, PledgeAnnounced)  # only pledges are sampled
        return PrecedentSet(
            actor=by.event.donor,
            issue=by.event.issue,
            threshold=self.text(_THRESHOLDS),
            by=by.key,
        )

    def coalition(self, _: _Dossier) -> Event:
        members = self.some_actors(8)
        return CoalitionFormed(
            coalition=self.text(self.coalitions),
            members=members,
            leads=members[:1] if self.rng.random() < 0.5 else (),
            issue=self.issue(),
        )

    # -- fixes -----------------------------------------------------------------

    def correction(self, dossier: _Dossier) -> Event:
        """New values for fields the target's type has, or a new `occurred`."""
        target = dossier.targets.pick(self.rng)
        return EventCorrected.of(target.key, self.changes(target))

    def changes(self, target: Envelope) -> dict[str, object]:
        rng = self.rng
        event = target.event
        if rng.random() < 0.3:
            shift = dt.timedelta(days=rng.choice((-3, -2, -1, 1, 2, 3)))
            return {"occurred": (target.occurred.start.date() + shift).isoformat()}
        match event:
            case PledgeAnnounced() | DeliveryReported():
                return {"quantity": rng.randint(1, 40)}
            case PositionStated():
                return {"stance": str(rng.choice(_STANCES))}
            case StatementIssued():
                return {"tone": str(rng.choice(_TONES)), "summary": self.text(_SUMMARIES)}
            case RequestFiled():
                return {"ask": str(rng.choice(_ASKS))}
            case RequestDecided():
                return {"decision": str(rng.choice(_DECISIONS))}
            case ThreatIssued():
                return {"summary": self.text(_SUMMARIES)}
            case PrecedentSet():
                return {"threshold": self.text(_THRESHOLDS)}
            case PressureApplied() | ConsultationHeld():
                return {"note": self.text(_NOTES)}
            case _:
                return {"issue": self.issue()}

    def retraction(self, dossier: _Dossier) -> Event:
        """Of a fact not retracted before; it leaves every sample, so nothing names it again."""
        target = dossier.targets.take(self.rng)
        dossier.pledges.discard(lambda e: e.key != target.key)
        dossier.requests.discard(lambda e: e.key != target.key)
        return EventRetracted(retracts=target.key, reason="reported in error")

    # -- the stream ------------------------------------------------------------

    def kind(self, dossier: _Dossier) -> str:
        """The next type; a reference with nothing to name falls back to a plain fact."""
        rng = self.rng
        roll = rng.random()
        if roll < self.retraction_below and dossier.targets:
            return EventCorrected.type if roll < self.correction_below else EventRetracted.type
        if roll < self.retraction_below:
            return StatementIssued.type
        index = bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])
        kind = self.kinds[min(index, len(self.kinds) - 1)]
        if kind == RequestDecided.type and not dossier.requests:
            return RequestFiled.type
        if kind in (PrecedentSet.type, DeliveryReported.type) and not dossier.pledges:
            return PledgeAnnounced.type
        return kind

    def envelope(self, dossier: _Dossier, key: str) -> Envelope:
        kind = self.kind(dossier)
        occurred = self.occurred()
        if kind == EventCorrected.type:
            event = self.correction(dossier)
        elif kind == EventRetracted.type:
            event = self.retraction(dossier)
        else:
            event = self.builders[kind](dossier)
        envelope = Envelope.new(
            dossier=dossier.name,
            key=key,
            occurred=occurred,
            event=event,
            sources=(self.source(),),
        )
        if not isinstance(event, EventCorrected | EventRetracted):
            dossier.targets.add(self.rng, envelope)
        if isinstance(event, PledgeAnnounced):
            dossier.pledges.add(self.rng, envelope)
        elif isinstance(event, RequestFiled):
            dossier.requests.add(self.rng, envelope)
        return envelope


def history(
    size: int,
    *,
    seed: int = 0,
    dossiers: int = 1,
    actors: int = 300,
    issues: int = 30,
    items: int = 60,
    start: str = "2020-01-01",
    late_fraction: float = 0.05,
    correction_fraction: float = 0.01,
    retraction_fraction: float = 0.005,
) -> Iterator[Envelope]:
    """`size` events in recording order, after one declaration per dossier.

    Lazy: nothing is generated before it is asked for. The same arguments
    give the same envelopes (ids included) on every run.
    Dossiers are named synthetic-01, synthetic-02...; events are spread
    evenly over them and keyed e00000001, e00000002... in recording order.
    `late_fraction` of the events are recorded weeks to months after they
    happened, as analysts add facts they learn of late.
    """
    if size < 0 or dossiers < 1 or actors < 2 or issues < 1 or items < 1:
        raise ValueError("expected size >= 0, dossiers >= 1, actors >= 2, issues and items >= 1")
    fractions = (late_fraction, correction_fraction, retraction_fraction)
    if not all(0 <= f <= 1 for f in fractions) or correction_fraction + retraction_fraction > 1:
        raise ValueError("expected fractions between 0 and 1, fixes summing to at most 1")
    generator = _Generator(
        seed=seed,
        actors=actors,
        issues=issues,
        items=items,
        start=start,
        late_fraction=late_fraction,
        correction_fraction=correction_fraction,
        retraction_fraction=retraction_fraction,
    )
    declarations = [
        declaration(name, actors=actors, issues=issues, items=items)
        for name in dossier_names(dossiers)
    ]
    return _stream(generator, declarations, size)


def _stream(generator: _Generator, declarations: list[Envelope], size: int) -> Iterator[Envelope]:
    """The lazy part of `history`, apart so that bad arguments fail at the call."""
    yield from declarations
    streams = [_Dossier(declared.dossier) for declared in declarations]
    for number in range(1, size + 1):
        stream = streams[generator.rng.randrange(len(streams))] if len(streams) > 1 else streams[0]
        yield generator.envelope(stream, f"e{number:08d}")


def batches(envelopes: Iterable[Envelope], size: int) -> Iterator[dict[str, list[Envelope]]]:
    """Consecutive envelopes, `size` at a time, shaped for `EventStore.append_batches`.

    Within a dossier the order is kept, so every reference still points to
    an event appended before it or in the same batch.
    """
    if size < 1:
        raise ValueError(f"expected a batch size of at least 1, got {size}")
    iterator = iter(envelopes)
    while chunk := list(itertools.islice(iterator, size)):
        batch: dict[str, list[Envelope]] = {}
        for envelope in chunk:
            batch.setdefault(envelope.dossier, []).append(envelope)
        yield batch
