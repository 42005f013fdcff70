"""The event vocabulary and its codec: dates, quantities, payloads, upcasting, errors."""

from __future__ import annotations

import datetime as dt
import json
import typing
from typing import Any, ClassVar, cast

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import (
    REGISTRY,
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
    InvalidEvent,
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
    TimelineError,
    Tone,
)
from events.codec import event_from_dict, event_to_dict

UTC = dt.UTC


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def sample_events() -> dict[str, Event]:
    """One event of every registered type, every optional field filled, by type name."""
    samples: list[Event] = [
        PressureApplied(actors=("POL", "GBR"), target="DEU", issue="mbt", note="for weeks"),
        RequestFiled(
            requester="POL",
            addressee="DEU",
            issue="mbt",
            ask=Ask.RE_EXPORT,
            item="leopard-2a4",
            quantity=Quantity(10, 14),
            note="formally",
        ),
        RequestDecided(request="pol-asks", decision=Decision.PARTIAL, by="DEU", note="some"),
        PositionStated(
            actor="DEU",
            issue="mbt",
            stance=Stance.CONDITIONAL,
            condition=Condition(actor="USA", item="m1-abrams"),
            note="only with Abrams",
        ),
        PledgeAnnounced(
            donor="USA",
            recipient="UKR",
            issue="mbt",
            item="m1-abrams",
            quantity=Quantity(31, 31),
            total=Quantity(0, 9),
            eta=Occurred.parse("2023-08-01/2023-08-17"),
            conditions=("training first",),
            note="31 M1A2",
        ),
        PrecedentSet(actor="GBR", issue="mbt", threshold="first Western MBT", by="gbr-pledge"),
        ConsultationHeld(participants=("USA", "DEU"), issue="mbt", note="call"),
        StatementIssued(actor="NATO", issue="mbt", tone=Tone.SUPPORTIVE, summary="welcomes"),
        ThreatIssued(actor="RUS", target="DEU", issue="mbt", summary="will burn"),
        CoalitionFormed(coalition="TANKS", members=("DEU", "POL"), leads=("POL",), issue="mbt"),
        DeliveryReported(
            donor="GBR",
            recipient="UKR",
            item="challenger-2",
            quantity=Quantity(14, 14),
            total=Quantity(14, 14),
            note="arrived",
        ),
        EventCorrected.of("usa-pledge", {"occurred": "2023-01-26", "quantity": "30-31"}),
        EventRetracted(retracts="rumour", reason="denied by the ministry"),
        DossierDeclared(
            title="Tanks for Ukraine",
            actors=(("NATO", "North Atlantic Treaty Organization"),),
            items=(("leopard-2a6", "Leopard 2A6", "main-battle-tank"),),
            issues=(("mbt", "Main battle tanks"),),
        ),
    ]
    return {event.type: event for event in samples}


# ---------------------------------------------------------------- Occurred

SIX_FORMS = [
    (
        "2023-01-25T16:12:00-05:00",
        Precision.INSTANT,
        utc(2023, 1, 25, 21, 12),
        "2023-01-25T21:12:00Z",
    ),
    ("2023-01-25", Precision.DAY, utc(2023, 1, 25), "2023-01-25"),
    ("2023-W03", Precision.WEEK, utc(2023, 1, 16), "2023-W03"),
    ("2023-01", Precision.MONTH, utc(2023, 1, 1), "2023-01"),
    ("2023", Precision.YEAR, utc(2023, 1, 1), "2023"),
    ("2023-08-01/2023-08-17", Precision.SPAN, utc(2023, 8, 1), "2023-08-01/2023-08-17"),
]


@pytest.mark.parametrize(("text", "precision", "start", "printed"), SIX_FORMS)
def test_occurred_parses_each_form_and_prints_it_back(
    text: str, precision: Precision, start: dt.datetime, printed: str
) -> None:
    """Each of the six forms parses to its precision and start, and prints in that form."""
    occurred = Occurred.parse(text)
    assert occurred.precision is precision
    assert occurred.start == start
    assert occurred.start.utcoffset() == dt.timedelta(0)
    assert str(occurred) == printed
    assert Occurred.parse(str(occurred)) == occurred


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2023-W03", utc(2023, 1, 16), utc(2023, 1, 23)),
        ("2023-01-01/2023-01-24", utc(2023, 1, 1), utc(2023, 1, 25)),
        ("2023-01-25", utc(2023, 1, 25), utc(2023, 1, 26)),
        ("2024-02", utc(2024, 2, 1), utc(2024, 3, 1)),
        ("2023", utc(2023, 1, 1), utc(2024, 1, 1)),
        ("2020-W53", utc(2020, 12, 28), utc(2021, 1, 4)),
        ("2023-01-25T16:12:00-05:00", utc(2023, 1, 25, 21, 12), utc(2023, 1, 25, 21, 12, 0, 1)),
        ("2023-01-25T16:12:00", utc(2023, 1, 25, 16, 12), utc(2023, 1, 25, 16, 12, 0, 1)),
        ("2024-03/2024-04", utc(2024, 3, 1), utc(2024, 5, 1)),
        ("2023-W03/2023-W05", utc(2023, 1, 16), utc(2023, 2, 6)),
        ("2023/2024", utc(2023, 1, 1), utc(2025, 1, 1)),
        ("2023-01/2023-02-03", utc(2023, 1, 1), utc(2023, 2, 4)),
    ],
)
def test_occurred_intervals_are_half_open_utc(
    text: str, start: dt.datetime, end: dt.datetime
) -> None:
    """Each form becomes the right UTC interval [start, end); an instant lasts one microsecond."""
    occurred = Occurred.parse(text)
    assert (occurred.start, occurred.end) == (start, end)
    assert occurred.ended_by(end)
    assert not occurred.ended_by(end - dt.timedelta(microseconds=1))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2023-13",
        "2023-02-30",
        "2023-W54",
        "2021-W53",
        "2023-W00",
        "2024-04/2024-03",
        "2023-01-25T10:00:00Z/2023-01-26",
        "2023-01/2023-02/2023-03",
        "2023-00",
        "23-01-25",
        "2023-1-5",
        "2023-01-25T25:00:00",
        "2023-01-25T16:12:00+99:00",
        "2023-01-25 16:12",
        "2023-01-24/2023-01-01",
        "2023-01-01/",
        "/2023-01-01",
        "2023-01-01/2023-01-02/2023-01-03",
        "Tuesday",
        "P1DT2H",
        "T12:00",
    ],
)
def test_bad_dates_raise_invalid_event(text: str) -> None:
    """Anything but the six forms raises InvalidEvent naming the forms and the bad text."""
    with pytest.raises(InvalidEvent) as caught:
        Occurred.parse(text)
    assert "ISO week (2023-W03)" in caught.value.expected
    assert repr(text) in caught.value.expected
    assert isinstance(caught.value, ValueError)


_DATES = st.dates(dt.date(1000, 1, 1), dt.date(9998, 12, 30))
_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


@st.composite
def occurrence_texts(draw: st.DrawFn) -> str:
    """`occurred` as written, in any of the six forms, years 1000 to 9998."""
    day = draw(_DATES)
    precision = draw(st.sampled_from(list(Precision)))
    match precision:
        case Precision.INSTANT:
            moment = draw(
                st.datetimes(dt.datetime(1000, 1, 2), dt.datetime(9998, 12, 30), timezones=_OFFSETS)
            )
            return moment.isoformat()
        case Precision.DAY:
            return day.isoformat()
        case Precision.WEEK:
            year, week, _ = day.isocalendar()
            return f"{year:04d}-W{week:02d}"
        case Precision.MONTH:
            return f"{day.year:04d}-{day.month:02d}"
        case Precision.YEAR:
            return f"{day.year:04d}"
        case Precision.SPAN:
            last = draw(st.dates(day, min(day + dt.timedelta(days=400), dt.date(9998, 12, 30))))
            return f"{day.isoformat()}/{last.isoformat()}"
    raise AssertionError(precision)


@given(occurrence_texts())
def test_occurred_prints_what_it_parses(text: str) -> None:
    """For occurrences of every precision, parse(str(o)) == o and str keeps dated forms as given."""
    occurred = Occurred.parse(text)
    assert Occurred.parse(str(occurred)) == occurred
    assert occurred.start < occurred.end
    if occurred.precision is not Precision.INSTANT:
        assert str(occurred) == text
        assert (occurred.start.hour, occurred.start.minute) == (0, 0)


@pytest.mark.parametrize("text", ["0999", "0999-02", "0999-02-03", "0843-08-01/0843-08-10"])
def test_occurred_before_year_1000_prints_what_it_parses(text: str) -> None:
    """Years below 1000 print zero-padded, so they too parse back to themselves."""
    occurred = Occurred.parse(text)
    assert str(occurred) == text
    assert Occurred.parse(str(occurred)) == occurred


# ---------------------------------------------------------------- Quantity


@pytest.mark.parametrize(
    ("given_value", "low", "high", "as_json"),
    [
        (14, 14, 14, 14),
        ("14", 14, 14, 14),
        (" 14 ", 14, 14, 14),
        (0, 0, 0, 0),
        ("10-14", 10, 14, "10-14"),
        ("10 - 14", 10, 14, "10-14"),
        ("5-5", 5, 5, 5),
        ("<10", 0, 9, "<10"),
        ("< 10", 0, 9, "<10"),
        ("<1", 0, 0, 0),
    ],
)
def test_quantity_parses_and_prints(
    given_value: object, low: int, high: int, as_json: object
) -> None:
    """Numbers, ranges and upper bounds parse to [low, high] and print in the form parse reads."""
    quantity = Quantity.parse(given_value)
    assert (quantity.low, quantity.high) == (low, high)
    assert quantity.to_json() == as_json
    assert Quantity.parse(quantity.to_json()) == quantity


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_quantity_round_trips(first: int, second: int) -> None:
    """Every quantity with 0 <= low <= high reads back from its JSON form unchanged."""
    quantity = Quantity(min(first, second), max(first, second))
    assert Quantity.parse(quantity.to_json()) == quantity
    assert Quantity.parse(json.loads(json.dumps(quantity.to_json()))) == quantity


@pytest.mark.parametrize(
    "bad", [-1, "-1", "14-10", "<0", "a dozen", "", "1.5", 14.0, True, None, "10-", "~10", "1e3"]
)
def test_bad_quantities_raise_invalid_event(bad: object) -> None:
    """Negative, reversed, fractional, boolean and wordy quantities raise InvalidEvent."""
    with pytest.raises(InvalidEvent) as caught:
        Quantity.parse(bad)
    assert "a range (10-14)" in caught.value.expected


def test_superscript_digits_are_not_a_quantity() -> None:
    """A superscript digit is refused with InvalidEvent like any other bad quantity."""
    with pytest.raises(InvalidEvent):
        Quantity.parse("²")


# ---------------------------------------------------------------- codec


def test_the_samples_cover_the_registry() -> None:
    """The samples below hold one event of each registered type, so no type escapes the tests."""
    assert set(sample_events()) == set(REGISTRY)


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_codec_round_trips_every_event_type(type_name: str) -> None:
    """An event to JSON and back, through text, is the same event of the same class."""
    event = sample_events()[type_name]
    payload = json.loads(json.dumps(event_to_dict(event)))
    assert "type" not in payload
    back = event_from_dict(type_name, REGISTRY[type_name].schema_version, payload)
    assert back == event
    assert type(back) is REGISTRY[type_name]


def test_optional_fields_absent_from_a_payload_take_their_defaults() -> None:
    """A payload without optional fields builds the event with them absent."""
    event = event_from_dict(
        "pledge.announced", 1, {"donor": "GBR", "recipient": "UKR", "issue": "mbt", "item": "c2"}
    )
    assert event == PledgeAnnounced(donor="GBR", recipient="UKR", issue="mbt", item="c2")
    assert isinstance(event, PledgeAnnounced)
    assert event.quantity is None
    assert event.conditions == ()


def test_correction_changes_come_back_as_the_mapping_given() -> None:
    """An event.corrected keeps its changes deeply frozen and gives them back as JSON."""
    changes = {"quantity": "10-14", "note": {"text": "x"}, "actors": ["DEU", "USA"]}
    event = event_from_dict("event.corrected", 1, {"corrects": "k", "changes": changes})
    assert isinstance(event, EventCorrected)
    assert event.new_values() == changes
    assert event_to_dict(event) == {"corrects": "k", "changes": changes}


def test_correction_changes_keep_lists_of_pairs() -> None:
    """A change whose value is a list of two-item lists comes back as that list."""
    changes = {"actors": [["DEU", "Germany"]]}
    event = event_from_dict("event.corrected", 1, {"corrects": "k", "changes": changes})
    assert isinstance(event, EventCorrected)
    assert event.new_values() == changes


def test_version_1_pressure_is_upcast_to_version_2() -> None:
    """A v1 `pressure.applied` payload with one `actor` reads as v2 with `actors`."""
    payload = {"actor": "POL", "target": "DEU", "issue": "x"}
    event = event_from_dict("pressure.applied", 1, payload)
    assert event == PressureApplied(actors=("POL",), target="DEU", issue="x")
    assert payload == {"actor": "POL", "target": "DEU", "issue": "x"}  # input left alone
    assert event_to_dict(event)["actors"] == ["POL"]
    assert PressureApplied.schema_version == 2


def test_a_version_from_the_future_is_refused() -> None:
    """A schema_version above the class's raises InvalidEvent on `schema_version`."""
    with pytest.raises(InvalidEvent) as caught:
        event_from_dict("pressure.applied", 3, {"actors": ["POL"], "target": "DEU", "issue": "x"})
    assert caught.value.path == "schema_version"
    assert "1 to 2" in caught.value.expected


_POSITION = {"actor": "DEU", "issue": "mbt", "stance": "conditional"}
_PLEDGE = {"donor": "DEU", "recipient": "UKR", "issue": "mbt", "item": "leopard-2a6"}
_REQUEST = {"requester": "POL", "addressee": "DEU", "issue": "mbt", "ask": "supply"}


@pytest.mark.parametrize(
    ("type_name", "payload", "path", "expected"),
    [
        ("request.filed", _REQUEST | {"quantity": "lots"}, "quantity", "a range (10-14)"),
        ("pledge.announced", _PLEDGE | {"total": "14-10"}, "total", "a range (10-14)"),
        (
            "position.stated",
            _POSITION | {"condition": {"does": "pledge"}},
            "condition.actor",
            "required",
        ),
        (
            "position.stated",
            _POSITION | {"condition": {"actor": " "}},
            "condition.actor",
            "non-empty",
        ),
        (
            "position.stated",
            _POSITION | {"condition": {"actor": "USA", "does": "pray"}},
            "condition.does",
            "pledge",
        ),
        ("pledge.announced", _PLEDGE | {"conditions": ["first", ""]}, "conditions[1]", "non-empty"),
        ("position.stated", _POSITION | {"stance": "maybe"}, "stance", "opposed, reluctant"),
        ("request.filed", _REQUEST | {"ask": "beg"}, "ask", "supply, permission, re-export"),
        ("pledge.announced", _PLEDGE | {"colour": "green"}, "colour", "unknown field"),
        ("pledge.announced", {k: v for k, v in _PLEDGE.items() if k != "item"}, "item", "required"),
        ("pledge.announced", _PLEDGE | {"eta": "soon"}, "eta", "ISO week (2023-W03)"),
        (
            "pressure.applied",
            {"actors": [], "target": "DEU", "issue": "x"},
            "actors",
            "at least one",
        ),
        (
            "statement.issued",
            {"actor": "NATO", "tone": "neutral", "summary": ""},
            "summary",
            "non-empty",
        ),
        ("event.corrected", {"corrects": "k", "changes": {}}, "changes", "mapping"),
    ],
)
def test_invalid_payloads_name_the_field_and_what_was_expected(
    type_name: str, payload: dict[str, Any], path: str, expected: str
) -> None:
    """A bad payload raises InvalidEvent with the field's path and a readable expectation."""
    with pytest.raises(InvalidEvent) as caught:
        event_from_dict(type_name, REGISTRY[type_name].schema_version, payload)
    assert caught.value.path == path
    assert expected in caught.value.expected
    assert "cattrs" not in caught.value.expected
    assert "Error" not in caught.value.expected
    assert isinstance(caught.value, TimelineError)


def test_a_string_where_a_list_belongs_is_refused() -> None:
    """Text given for a list field raises InvalidEvent on that field, never splits into letters."""
    with pytest.raises(InvalidEvent) as caught:
        event_from_dict("pressure.applied", 2, {"actors": "POL", "target": "DEU", "issue": "x"})
    assert caught.value.path == "actors"


def test_unknown_type_names_the_known_types() -> None:
    """An unregistered type raises InvalidEvent on `type` listing every known type."""
    with pytest.raises(InvalidEvent) as caught:
        event_from_dict("tank.sighted", 1, {})
    assert caught.value.path == "type"
    for name in REGISTRY:
        assert name in caught.value.expected


def test_registering_a_type_name_twice_raises() -> None:
    """A second class claiming a registered type name raises TypeError; the first keeps it."""
    with pytest.raises(TypeError, match="registered twice"):

        @attrs.frozen(kw_only=True)
        class Impostor(Event):
            type: ClassVar[str] = "pressure.applied"

    with pytest.raises(TypeError, match="registered twice"):

        @attrs.frozen(kw_only=True)
        class Heir(PressureApplied):
            extra: str = ""

    assert REGISTRY["pressure.applied"] is PressureApplied


def test_registry_names_match_the_classes() -> None:
    """Each registry entry is an Event subclass registered under its own `type` name."""
    for name, cls in REGISTRY.items():
        assert issubclass(cls, Event)
        assert cls.type == name
        assert cls.schema_version >= 1


# ---------------------------------------------------------------- deep immutability


def _mutable_types_in(hint: object) -> list[object]:
    origin = typing.get_origin(hint) or hint
    found: list[object] = [origin] if origin in (list, dict, set, bytearray) else []
    for argument in typing.get_args(hint):
        found += _mutable_types_in(argument)
    return found


def _mutable_values_in(value: object) -> list[object]:
    if isinstance(value, list | dict | set | bytearray):
        return [value]
    if attrs.has(type(value)):
        return [
            v
            for f in attrs.fields(cast(Any, type(value)))
            for v in _mutable_values_in(getattr(value, f.name))
        ]
    if isinstance(value, tuple | frozenset):
        return [v for item in value for v in _mutable_values_in(item)]
    return []


VALUE_TYPES = [Occurred, Quantity, Source, Condition, Envelope]


@pytest.mark.parametrize("cls", [*sorted(REGISTRY.values(), key=lambda c: c.type), *VALUE_TYPES])
def test_classes_declare_no_mutable_fields(cls: type) -> None:
    """No field of an event or value class is typed as a list, dict, set or bytearray."""
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        assert _mutable_types_in(hints[field.name]) == [], f"{cls.__name__}.{field.name}"


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_events_are_deeply_frozen(type_name: str) -> None:
    """Assigning to any field raises FrozenInstanceError, and no value inside is a list or dict."""
    event = sample_events()[type_name]
    decoded = event_from_dict(type_name, event.schema_version, event_to_dict(event))
    for instance in (event, decoded):
        for field in attrs.fields(type(instance)):
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(instance, field.name, None)
        assert _mutable_values_in(instance) == []
    assert _mutable_values_in({"a": 1}) != []  # the walker does see mutables


def test_value_types_are_frozen() -> None:
    """Occurred, Quantity, Source, Condition and Envelope refuse assignment too."""
    values: list[object] = [
        Occurred.parse("2023"),
        Quantity(1, 2),
        Source(publisher="p", published=dt.date(2023, 1, 1), quote="q"),
        Condition(actor="USA"),
        Envelope.new(
            dossier="d",
            key="k",
            occurred=Occurred.parse("2023"),
            event=EventRetracted(retracts="x", reason="y"),
        ),
    ]
    for value in values:
        field = attrs.fields(cast(Any, type(value)))[0]
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(value, field.name, None)


_SOURCE_VALUES = st.one_of(
    st.sampled_from(["2023-01-25", "20230125", "2023-W04-3", "2023-02-30", " ", "", "a\x00b"]),
    st.text(max_size=12),
    st.none(),
    st.integers(),
    st.dates(),
)


def _by_cattrs(data: dict[str, Any]) -> object:
    """The oracle: the generic structuring every source went through before."""
    from events.codec import _invalid, converter

    try:
        return converter.structure(dict(data), Source)
    except Exception as exc:
        err = _invalid(exc)
        return (err.path, err.expected)


@given(
    st.dictionaries(
        st.sampled_from(["publisher", "published", "quote", "title", "url", "cite", "extra"]),
        _SOURCE_VALUES,
    )
)
def test_sources_built_by_hand_are_those_cattrs_builds(data: dict[str, Any]) -> None:
    from events.codec import source_from_dict

    try:
        found: object = source_from_dict(data)
    except InvalidEvent as err:
        found = (err.path, err.expected)
    assert found == _by_cattrs(data)
