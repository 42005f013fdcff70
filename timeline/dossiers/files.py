"""Reading dossier files (YAML or JSON Lines) into envelopes, validating everything.

Nothing here writes: `read_dossiers` turns files into envelopes or raises one
`DossierError` that names the file, the line, the event key and the field.
The engine appends only what passed, in one transaction.
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import hashlib
import io
import json
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import attrs
import orjson
import pycountry
import yaml

from events import (
    REGISTRY,
    DossierDeclared,
    Envelope,
    Event,
    EventCorrected,
    EventRetracted,
    InvalidEvent,
    Occurred,
    PositionStated,
    RequestFiled,
    Source,
)
from events.codec import corrected, event_from_dict, event_to_dict, source_from_dict
from timeline.errors import DossierError
from timeline.store.schema import NAME_LENGTH

HEADER_FIELDS = {"dossier", "title", "actors", "items", "issues", "sources", "events"}
ISO_STATES = frozenset(country.alpha_3 for country in pycountry.countries)
ANY_ALLY = "allies"
# Declarations have no valid time of their own: they hold at every as-of.
DECLARED_AT = Occurred.parse("1970")
_KEY_FIELDS = {"item": "items", "issue": "issues"}


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


_TAKEN_OVER = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int"}


MAX_DEPTH = 16
"""Levels of nesting a file may have: a dossier needs 5 (events, an event, its sources,
a source...); deeper is hostile or broken, and would exhaust the stack."""


MAX_TEXT = 10_000
"""Characters in one text value: a long quote is a few hundred."""


class _Loader(yaml.CSafeLoader):
    """Safe YAML that keeps dates as text (we parse precision ourselves) and lines.

    libyaml's parser: PyYAML's own takes 40 s on a 50 MB line.
    """

    # YAML 1.1 would read 2023-01-25 as a date, and 010 as 8 or 1:30 as 90.
    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class-level table
        first: [(tag, rx) for tag, rx in resolvers if tag not in _TAKEN_OVER]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


@attrs.frozen(kw_only=True)
class Record:
    """One raw event of a file, with where it came from."""

    data: Mapping[str, Any]
    line: int
    field_lines: Mapping[str, int]

    def line_of(self, field: str) -> int:
        return self.field_lines.get(field.split(".")[0].split("[")[0], self.line)


@attrs.frozen(kw_only=True)
class Header:
    """What a file's header declares; all of it optional in a follow-up file."""

    title: str | None = None
    actors: tuple[tuple[str, str], ...] = ()
    items: tuple[tuple[str, str, str], ...] = ()
    issues: tuple[tuple[str, str], ...] = ()
    line: int = 1


@attrs.frozen(kw_only=True)
class DossierFile:
    """A validated file: its dossier, its header, its events. The codes its events name
    are checked by `resolve`, against everything the dossier declares."""

    path: str
    dossier: str
    header: Header
    envelopes: tuple[Envelope, ...]
    lines: Mapping[str, int] = attrs.field(factory=dict)
    fields: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)
    """The line of each field of each event, by key (YAML only)."""

    def line_of(self, key: str, field: str | None = None) -> int | None:
        """The line of event `key`, or of its `field` where known."""
        if field is not None:
            found = self.fields.get(key, {}).get(field.split(".")[0].split("[")[0])
            if found is not None:
                return found
        return self.lines.get(key)


def _fail(path: str, line: int | None, expected: str, **where: str | None) -> DossierError:
    return DossierError(path, line, expected, **where)


class Findings:
    """Errors found so far, for `timeline validate`: reading goes on past an event's
    error to the next event, and stops once `limit` errors are found."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.errors: list[DossierError] = []

    def add(self, error: DossierError) -> None:
        """Keep `error`; past the limit, stop reading (`Enough`)."""
        self.errors.append(error)
        if len(self.errors) >= self.limit:
            raise Enough


class Enough(Exception):
    """`Findings` holds as many errors as were asked for."""


def _found(findings: Findings | None, error: DossierError) -> None:
    """Raise `error` (an import stops at the first), or note it and go on (validate)."""
    if findings is None:
        raise error
    findings.add(error)


FORMATS = {".yaml": "yaml", ".yml": "yaml", ".jsonl": "jsonl", ".ndjson": "jsonl"}
"""A dossier file's format, by its suffix."""


def _parse(name: str, text: str, form: str) -> tuple[Mapping[str, Any], Iterator[Record], int]:
    """The header and the raw event records of a dossier, with line numbers."""
    if form == "yaml":
        return _parse_yaml(name, io.StringIO(text))
    if form == "jsonl":
        return _parse_jsonl(name, io.StringIO(text))
    raise _fail(name, None, "expected a .yaml, .yml or .jsonl dossier file")


def _parse_yaml(name: str, stream: TextIO) -> tuple[Mapping[str, Any], Iterator[Record], int]:
    """The header, then the events as libyaml reads them: a file of any length takes
    the memory of one event at a time.

    The stream is read twice: once for the header, wherever its fields are
    (PyYAML writes keys sorted, `events` among them), once for the events.
    """
    first = _YAMLEvents(name, stream)
    try:
        header = first.header(everything=True)
    finally:
        first.close()
    stream.seek(0)
    reader = _YAMLEvents(name, stream)
    try:
        reader.header()
    except BaseException:
        reader.close()
        raise
    return header, reader.records(), header.line


class _YAMLEvents:
    """Dossier values built from libyaml's parse events, one event record at a time.

    Built here rather than by PyYAML's composer, which holds the whole
    document: so the same rules are kept while streaming. No tags beyond the
    standard scalar ones; no alias (`*name`) to a mapping or a list, which
    could multiply a small file into gigabytes; at most `MAX_DEPTH` levels.
    """

    def __init__(self, name: str, stream: TextIO) -> None:
        self.name, self.loader = name, _Loader(stream)
        self.scalars: dict[str, Any] = {}
        self.collections: set[str] = set()

    def close(self) -> None:
        self.loader.dispose()

    def header(self, everything: bool = False) -> _Mapping:
        """The header's fields up to `events:`, whose list is left to `records`; or, with
        `everything`, all of them, the list skipped."""
        self._next(yaml.StreamStartEvent)
        if self._check(yaml.StreamEndEvent):
            raise _fail(
                self.name,
                1,
                "expected a mapping with dossier, title, actors, items, issues, events",
            )
        self._next(yaml.DocumentStartEvent)
        start = self._event()
        if not isinstance(start, yaml.MappingStartEvent):
            expected = "expected a mapping with dossier, title, actors, items, issues, events"
            raise _fail(self.name, _line(start), expected)
        header = _Mapping()
        header.line, header.key_lines = _line(start), {}
        while not self._check(yaml.MappingEndEvent):
            key_event = self._event()
            key = str(self._scalar(key_event)) if isinstance(key_event, yaml.ScalarEvent) else None
            if key is None:
                raise _fail(self.name, _line(key_event), "expected a field name")
            header.key_lines[key] = _line(key_event)
            if key == "events":
                if not self._check(yaml.SequenceStartEvent):
                    raise _fail(
                        self.name, _line(key_event), "expected `events:` with a list of events"
                    )
                if not everything:
                    return header
                self._skip()
                continue
            header[key] = self._value(2)
            _check_value(self.name, header.key_lines[key], header[key])
        if "events" not in header.key_lines:
            raise _fail(self.name, header.line, "expected `events:` with a list of events")
        return header

    def _skip(self) -> None:
        """Past the value that starts at the next parse event, building nothing."""
        depth = 0
        while True:
            event = self._event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if depth == 0:
                return

    def records(self) -> Iterator[Record]:
        """Each event of the list `header` stopped at, then the header fields after it,
        skipped (the first reading took them)."""
        try:
            events_line = _line(self._next(yaml.SequenceStartEvent))
            while not self._check(yaml.SequenceEndEvent):
                raw = self._value(3)
                if not isinstance(raw, _Mapping):
                    raise _fail(self.name, events_line, "expected each event to be a mapping")
                _check_value(self.name, raw.line, raw)
                yield Record(data=raw, line=raw.line, field_lines=raw.key_lines)
            self._next(yaml.SequenceEndEvent)
            while not self._check(yaml.MappingEndEvent):
                self._skip()
            self._next(yaml.MappingEndEvent)
            self._next(yaml.DocumentEndEvent)
            if not self._check(yaml.StreamEndEvent):
                raise _fail(self.name, _line(self._event()), "expected one YAML document")
        finally:
            self.close()

    def _value(self, depth: int) -> Any:
        """The value that starts at the next parse event, `depth` levels down."""
        event = self._event()
        if depth > MAX_DEPTH:
            raise _fail(self.name, _line(event), f"expected at most {MAX_DEPTH} levels of nesting")
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.scalars:
                return self.scalars[event.anchor]
            if event.anchor in self.collections:
                raise _fail(
                    self.name, _line(event), "expected no aliases (*name) to mappings or lists"
                )
            raise _fail(
                self.name, _line(event), f"malformed YAML: found undefined alias {event.anchor!r}"
            )
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event)
            if anchor is not None:
                self.scalars[anchor] = value
            return value
        if anchor is not None:
            self.collections.add(anchor)
        if isinstance(event, yaml.CollectionStartEvent):
            self._plain_tag(event)
        if isinstance(event, yaml.SequenceStartEvent):
            items = []
            while not self._check(yaml.SequenceEndEvent):
                items.append(self._value(depth + 1))
            self._event()
            return items
        if isinstance(event, yaml.MappingStartEvent):
            mapping = _Mapping()
            mapping.line, mapping.key_lines = _line(event), {}
            while not self._check(yaml.MappingEndEvent):
                key_line = _line(self._peek())
                key = str(self._value(depth + 1))
                mapping.key_lines[key] = key_line
                mapping[key] = self._value(depth + 1)
            self._event()
            return mapping
        raise _fail(self.name, _line(event), "malformed YAML: expected a value")

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        construct = self.loader.yaml_constructors.get(tag)
        if construct is None:
            raise _fail(
                self.name, _line(event), f"expected no tags but the standard ones, got {tag!r}"
            )
        node = yaml.ScalarNode(tag, event.value, style=event.style)
        try:
            return construct(self.loader, node)
        except yaml.YAMLError as err:
            raise _fail(self.name, _line(event), f"malformed YAML: {err}") from err

    def _plain_tag(self, event: yaml.CollectionStartEvent) -> None:
        if event.tag not in (None, "!") and not event.implicit:
            expected = f"expected no tags but the standard ones, got {event.tag!r}"
            raise _fail(self.name, _line(event), expected)

    def _event(self) -> yaml.Event:
        return self._parsed(self.loader.get_event)

    def _peek(self) -> yaml.Event:
        return self._parsed(self.loader.peek_event)

    def _parsed(self, parse: Callable[[], yaml.Event | None]) -> yaml.Event:
        """The parse event `parse` gives; libyaml's complaints as one `DossierError`."""
        try:
            event = parse()
        except yaml.YAMLError as err:
            raise _malformed(self.name, err) from err
        if event is None:
            raise _fail(self.name, None, "malformed YAML: the file ends early")
        return event

    def _check(self, kind: type[yaml.Event]) -> bool:
        try:
            return bool(self.loader.check_event(kind))
        except yaml.YAMLError as err:
            raise _malformed(self.name, err) from err

    def _next(self, kind: type[yaml.Event]) -> yaml.Event:
        event = self._event()
        if not isinstance(event, kind):
            raise _fail(self.name, _line(event), "malformed YAML: expected a dossier mapping")
        return event


def _line(event: yaml.Event) -> int:
    return int(event.start_mark.line) + 1 if event.start_mark is not None else 1


def _malformed(name: str, err: yaml.YAMLError) -> DossierError:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return _fail(name, mark.line + 1 if mark else None, f"malformed YAML: {problem}")


def _check_value(name: str, line: int, value: object) -> None:
    """Refuse text a database cannot store (lone surrogates, from `\\ud800` escapes),
    text longer than any source quotes (`MAX_TEXT`), and nesting deeper than
    `MAX_DEPTH`, `value` being the first level. One walk: it sees every value of
    every event of an import."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        found, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _fail(name, line, f"expected at most {MAX_DEPTH} levels of nesting")
        if isinstance(found, str):
            if len(found) > MAX_TEXT:
                expected = f"expected text of at most {MAX_TEXT:,} characters"
                raise _fail(name, getattr(value, "line", line), f"{expected}, got {len(found):,}")
            if not found.isascii():  # ASCII always encodes
                try:
                    found.encode("utf-8")
                except UnicodeEncodeError as err:
                    expected = f"expected valid Unicode text, got {found[:40]!r}"
                    raise _fail(name, getattr(value, "line", line), expected) from err
        elif isinstance(found, Mapping):
            below = depth + 1
            stack.extend((key, below) for key in found)
            stack.extend((child, below) for child in found.values())
        elif isinstance(found, list):
            below = depth + 1
            stack.extend((child, below) for child in found)


def _parse_jsonl(
    name: str, lines: Iterable[str]
) -> tuple[Mapping[str, Any], Iterator[Record], int]:
    """The header line, then the event lines as they are read: a stream of any length
    takes the memory of one line at a time."""
    numbered = _numbered(name, lines)
    for number, line in numbered:
        value = _object(name, number, line)
        if "events" in value:
            expected = "expected the events on their own lines, not in the header"
            raise _fail(name, number, expected)
        return value, JSONLines(name, numbered), number
    raise _fail(name, None, "expected a header line, then one event per line")


def _numbered(name: str, lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """Each non-blank line with its number."""
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield number, line
    except UnicodeDecodeError as err:
        raise _fail(name, number + 1, "expected UTF-8 text") from err


class JSONLines(Iterator[Record]):
    """The event lines of a JSON Lines file as they are read: each a `Record`, checked as
    `_parse_jsonl` says, or the numbered lines themselves (`lines`), for an import to
    decode in other processes (`timeline.dossiers.decoding`)."""

    def __init__(self, name: str, lines: Iterator[tuple[int, str]]) -> None:
        self.name, self.lines = name, lines

    def __next__(self) -> Record:
        number, line = next(self.lines)
        return record_of(self.name, number, line)


def record_of(name: str, number: int, line: str) -> Record:
    """The record of one event line of a JSON Lines file."""
    return Record(data=_object(name, number, line), line=number, field_lines={})


_LONG_NUMBER = re.compile(r"\d{19}")
"""Nineteen digits in a row: perhaps an integer beyond 64 bits, which orjson refuses or,
from 3.13 on, reads as a float."""


def _loads(line: str) -> Any:
    """A JSON value. orjson reads a line in a third of the time; what it refuses (a lone
    surrogate, NaN) or may read otherwise (an integer beyond 64 bits) goes to the
    standard library, which reads it as the format allows or says why not, as it always
    has."""
    if _LONG_NUMBER.search(line) is None:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    return json.loads(line)


def _object(name: str, number: int, line: str) -> dict[str, Any]:
    try:
        value = _loads(line)
    except json.JSONDecodeError as err:
        raise _fail(name, number, f"malformed JSON: {err.msg}") from err
    except ValueError as err:  # an integer of more than 4,300 digits
        expected = "malformed JSON: expected numbers of at most 4,300 digits"
        raise _fail(name, number, expected) from err
    except RecursionError as err:
        expected = f"expected at most {MAX_DEPTH} levels of nesting"
        raise _fail(name, number, expected) from err
    if not isinstance(value, dict):
        raise _fail(name, number, "expected one JSON object per line")
    if not _plainly_within_limits(line):
        _check_value(name, number, value)
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _plainly_within_limits(line: str) -> bool:
    """Whether a JSON line cannot break a limit `_check_value` checks, by its text alone:
    no text in it can be longer than the line, a lone surrogate needs a `\\ud800`-style
    escape, and each level of nesting a bracket. Most lines are so, and this is a tenth
    of a walk over their values; the rest are walked."""
    return (
        len(line) <= MAX_TEXT
        and line.count("{") + line.count("[") < MAX_DEPTH
        and not ("\\u" in line and _SURROGATE_ESCAPE.search(line))
    )


def _declared(name: str, header: Mapping[str, Any], line: int) -> Header:
    lines = getattr(header, "key_lines", {})

    def mapping(field: str, required: bool = True) -> Mapping[str, Any]:
        value = header.get(field, {} if not required else None)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise _fail(name, lines.get(field, line), "expected a mapping of codes", field=field)
        return value

    for field in ("actors", "items", "issues"):
        for code in mapping(field, required=False):
            if not isinstance(code, str) or not 0 < len(code) <= NAME_LENGTH:
                raise _fail(
                    name,
                    lines.get(field, line),
                    f"expected codes of 1 to {NAME_LENGTH} characters",
                    field=f"{field}.{code}",
                )

    def named(value: object, field: str) -> str:
        found = _text(value)
        if found is None:
            expected = f"expected a name: text of 1 to {MAX_TEXT:,} characters, or a number"
            raise _fail(name, lines.get(field.split(".")[0], line), expected, field=field)
        return found

    unknown = set(header) - HEADER_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise _fail(name, lines.get(field, line), "unknown header field", field=field)
    items = []
    for code, spec in mapping("items").items():
        if not isinstance(spec, Mapping) or set(spec) != {"name", "category"}:
            raise _fail(
                name,
                lines.get("items", line),
                "expected {name: ..., category: ...} and nothing else "
                "(in {...}, a comma starts another field: quote a name that has one)",
                field=f"items.{code}",
            )
        category = _text(spec["category"])
        if category is None or len(category) > NAME_LENGTH:
            raise _fail(
                name,
                lines.get("items", line),
                f"expected a category of 1 to {NAME_LENGTH} characters",
                field=f"items.{code}.category",
            )
        items.append((str(code), named(spec["name"], f"items.{code}.name"), category))
    title = header.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        raise _fail(name, lines.get("title", line), "expected non-empty text", field="title")
    return Header(
        title=title,
        actors=tuple(sorted((c, named(n, f"actors.{c}")) for c, n in mapping("actors").items())),
        items=tuple(sorted(items)),
        issues=tuple(sorted((c, named(n, f"issues.{c}")) for c, n in mapping("issues").items())),
        line=line,
    )


def _text(value: object) -> str | None:
    """`value` as text where the dossier schema's `text` allows it (non-blank text up to
    `MAX_TEXT` characters, or a number), else None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    return text if text.strip() and len(text) <= MAX_TEXT else None


def _header_id(declared: DossierDeclared) -> str:
    canonical = json.dumps(event_to_dict(declared), sort_keys=True)
    return f"declared-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


class _Context:
    """What one file's events may cite: its header's sources."""

    def __init__(self, name: str, header: Mapping[str, Any]) -> None:
        self.name = name
        sources = header.get("sources") or {}
        if not isinstance(sources, Mapping):
            raise _fail(name, getattr(header, "key_lines", {}).get("sources"), "expected a mapping")
        self.sources: Mapping[str, Any] = sources


def envelope_of(context: _Context, dossier: str, record: Record) -> Envelope:
    """The event of one record, validated on its own."""
    data = dict(record.data)
    key = data.get("key")
    if not isinstance(key, str) or not key.strip() or "\x00" in key:
        expected = "expected a non-empty `key` without NUL characters"
        raise _fail(context.name, record.line, expected, field="key")

    def fail(field: str, expected: str) -> DossierError:
        return _fail(context.name, record.line_of(field), expected, key=key, field=field)

    type_name = data.pop("type", None)
    if not isinstance(type_name, str):
        raise fail("type", "expected an event type such as pledge.announced")
    if type_name == DossierDeclared.type:
        raise fail("type", "dossier.declared comes from the header, not from events")
    if "occurred" not in data:
        raise fail("occurred", "required field missing")
    try:
        occurred = Occurred.parse(data.pop("occurred"))
    except InvalidEvent as err:
        raise fail("occurred", err.expected) from err
    sources = _sources(context, data.pop("sources", None), fail)
    given_id = data.pop("id", None)
    version = data.pop("schema_version", None)
    data.pop("key")
    try:
        cls_version = version if version is not None else _current_version(type_name)
        event = event_from_dict(type_name, cls_version, data)
        envelope = Envelope.new(
            dossier=dossier,
            key=key,
            occurred=occurred,
            event=event,
            sources=sources,
            id=_uuid(given_id) if given_id is not None else None,
        )
    except InvalidEvent as err:
        raise fail(err.path or "type", err.expected) from err
    return envelope


def _current_version(type_name: str) -> int:
    cls = REGISTRY.get(type_name)
    return cls.schema_version if cls else 1


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as err:
        raise InvalidEvent("id", f"expected a UUID, got {value!r}") from err


def _sources(
    context: _Context, raw: object, fail: Callable[[str, str], DossierError]
) -> tuple[Source, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail("sources", "expected a list of at least one source")
    sources = []
    for index, entry in enumerate(raw):
        field = f"sources[{index}]"
        if not isinstance(entry, Mapping):
            raise fail(field, "expected a source mapping")
        entry = dict(entry)
        if "cite" in entry:
            name = entry.pop("cite")
            cited = context.sources.get(name) if isinstance(name, str) else None
            if not isinstance(cited, Mapping):
                raise fail(
                    f"{field}.cite", f"expected one of the header sources {sorted(context.sources)}"
                )
            entry = {**cited, **entry}
        try:
            sources.append(source_from_dict(entry))
        except InvalidEvent as err:
            raise fail(f"{field}.{err.path}" if err.path else field, err.expected) from err
    return tuple(sources)


class Codes:
    """Everything one dossier declares so far, as its stored and new headers give it:
    later declarations of a code replace earlier ones."""

    def __init__(self) -> None:
        self.title: str | None = None
        self.actors: dict[str, str] = {}
        self.items: dict[str, tuple[str, str]] = {}
        self.issues: dict[str, str] = {}

    def known(self) -> Known:
        """The codes as sets, to check events against."""
        return Known(
            actors=ISO_STATES | frozenset(self.actors),
            items=frozenset(self.items),
            issues=frozenset(self.issues),
        )

    def changes(self, header: Header) -> list[str]:
        """What `header` declares that is not declared so far, in words."""
        found = [f"title {self.title!r} -> {header.title!r}"] if self._retitles(header) else []
        for kind, given, held in (
            ("actor", dict(header.actors), self.actors),
            ("item", {c: (n, k) for c, n, k in header.items}, self.items),
            ("issue", dict(header.issues), self.issues),
        ):
            for code, value in sorted(given.items()):
                before = held.get(code)
                if before is None:
                    found.append(f"new {kind} {code!r}")
                elif before != value:
                    found.append(f"{kind} {code!r}: {_shown(before)} -> {_shown(value)}")
        return found

    def _retitles(self, header: Header) -> bool:
        return None not in (self.title, header.title) and header.title != self.title

    def declare(self, declared: DossierDeclared) -> None:
        self.title = declared.title
        self.actors.update(declared.actors)
        self.items.update((code, (name, kind)) for code, name, kind in declared.items)
        self.issues.update(declared.issues)


@attrs.frozen(kw_only=True)
class Known:
    """The codes an event of a dossier may name."""

    actors: frozenset[str]
    items: frozenset[str]
    issues: frozenset[str]


def _shown(value: object) -> str:
    """A name, or an item's name and category, as a change report shows them."""
    if isinstance(value, tuple):
        return f"{value[0]!r} ({value[1]})"
    return repr(value)


def check_codes(
    codes: Known,
    event: Event,
    fail: Callable[[str, str], DossierError],
    only: Iterable[str] | None = None,
) -> None:
    """Every actor, item and issue the event names is known to its dossier (those of
    the fields `only` names, if given: what a correction changes)."""
    actors, items = codes.actors, codes.items
    fields = None if only is None else set(only)
    for field in event.actor_fields:
        if fields is not None and field not in fields:
            continue
        value = getattr(event, field)
        for index, actor in enumerate(value if isinstance(value, tuple) else (value,)):
            if field == "addressee" and actor == ANY_ALLY:
                continue
            if actor not in actors:
                where = f"{field}[{index}]" if isinstance(value, tuple) else field
                expected = "expected an ISO 3166-1 alpha-3 code or a declared actor"
                raise fail(where, f"{expected}, got {actor!r}{_nearest(actor, actors)}")
    condition = fields is None or "condition" in fields
    if isinstance(event, PositionStated) and event.condition is not None and condition:
        actor, item = event.condition.actor, event.condition.item
        if actor not in actors:
            near = _nearest(actor, actors)
            raise fail("condition.actor", f"expected a known actor, got {actor!r}{near}")
        if item is not None and item not in items:
            near = _nearest(item, items)
            raise fail("condition.item", f"expected a declared item, got {item!r}{near}")
    for field, kind in _KEY_FIELDS.items():
        if fields is not None and field not in fields:
            continue
        value = getattr(event, field, None)
        declared = codes.items if kind == "items" else codes.issues
        if value is not None and value not in declared:
            near = _nearest(value, declared)
            raise fail(field, f"expected one of the declared {kind}, got {value!r}{near}")


def _nearest(value: str, known: Iterable[str]) -> str:
    """The closest known code as a hint ("; did you mean 'USA'?"), or nothing."""
    near = difflib.get_close_matches(value, sorted(known), n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


@attrs.frozen(kw_only=True)
class Opened:
    """A dossier file opened: its header read and checked, its events still to read."""

    path: str
    dossier: str
    header: Header
    context: _Context
    records: Iterator[Record]

    def envelopes(self, findings: Findings | None = None) -> Iterator[tuple[Envelope, Record]]:
        """Each event as it is read, validated on its own, with its record (for lines).

        With `findings`, an invalid event is noted there and left out.
        """
        for record in self.records:
            try:
                yield envelope_of(self.context, self.dossier, record), record
            except DossierError as err:
                _found(findings, err)


@contextlib.contextmanager
def opened(path: Path) -> Iterator[Opened]:
    """A dossier file opened for reading as a stream, whatever its size; `-` is standard
    input, JSON Lines if it starts with `{`, else YAML."""
    name = str(path)
    try:
        if name == "-":
            buffer: Any = io.BufferedReader(sys.stdin.buffer)  # raw bytes, to peek at
            start = buffer.peek(256).removeprefix(codecs.BOM_UTF8).lstrip()
            if start.startswith(b"{"):
                stream = io.TextIOWrapper(buffer, "utf-8-sig")
                yield _opened(name, *_parse_jsonl(name, stream))
                return
            with tempfile.TemporaryFile() as spool:  # YAML is read twice: keep it on disk
                shutil.copyfileobj(buffer, spool)
                spool.seek(0)
                stream = io.TextIOWrapper(spool, "utf-8-sig")
                yield _opened(name, *_parse_yaml(name, stream))
            return
        form = FORMATS.get(path.suffix, path.suffix)
        if form not in ("yaml", "jsonl"):
            raise _fail(name, None, "expected a .yaml, .yml or .jsonl dossier file")
        with path.open(encoding="utf-8-sig") as stream:
            yield _opened(name, *_streamed(name, stream, form))
    except OSError as err:
        raise _fail(name, None, f"cannot read the file: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise _fail(name, None, "expected UTF-8 text") from err


def _streamed(
    name: str, stream: TextIO, form: str
) -> tuple[Mapping[str, Any], Iterator[Record], int]:
    return _parse_yaml(name, stream) if form == "yaml" else _parse_jsonl(name, stream)


def _opened(
    name: str, header: Mapping[str, Any], records: Iterator[Record], header_line: int
) -> Opened:
    dossier = header.get("dossier")
    if not isinstance(dossier, str) or not dossier.strip() or "\x00" in dossier:
        expected = "expected `dossier:` naming the stream, without NUL characters"
        raise _fail(name, header_line, expected, field="dossier")
    declared = _declared(name, header, header_line)
    return Opened(
        path=name,
        dossier=dossier,
        header=declared,
        context=_Context(name, header),
        records=records,
    )


def read_file(path: Path, findings: Findings | None = None) -> DossierFile:
    """One file, parsed and validated on its own (references are checked later).

    With `findings`, an invalid event is noted there and left out, and reading
    goes on; an unreadable file or header still raises.
    """
    with opened(path) as found:
        return _read(found, findings)


def read_text(name: str, text: str, form: str, findings: Findings | None = None) -> DossierFile:
    """A dossier in `form` ("yaml" or "jsonl") named `name` in errors, parsed and
    validated on its own (references are checked later); see `read_file`."""
    return _read(_opened(name, *_parse(name, text, form)), findings)


def _read(found: Opened, findings: Findings | None) -> DossierFile:
    """Every event of an opened file, in memory, a key used twice refused."""
    seen: dict[str, int] = {}
    fields: dict[str, Mapping[str, int]] = {}
    envelopes = []
    for envelope, record in found.envelopes(findings):
        if envelope.key in seen:
            duplicate = f"duplicate key, first used on line {seen[envelope.key]}"
            error = _fail(found.path, record.line, duplicate, key=envelope.key, field="key")
            _found(findings, error)
            continue
        seen[envelope.key] = record.line
        fields[envelope.key] = record.field_lines
        envelopes.append(envelope)
    return DossierFile(
        path=found.path,
        dossier=found.dossier,
        header=found.header,
        envelopes=tuple(envelopes),
        lines=seen,
        fields=fields,
    )


class Stored(Protocol):
    """What resolving a batch asks of the store (an `EventStore` is one)."""

    def find(self, dossier: str, names: Iterable[str]) -> Mapping[str, Envelope]: ...

    def declarations(self, dossier: str) -> Sequence[Envelope]: ...


@attrs.frozen(kw_only=True)
class Resolution:
    """What the files of one import declare anew, per dossier: the declarations to
    append, and their changes in words (new codes, other names or categories)."""

    declarations: Mapping[str, Sequence[Envelope]]
    changes: Mapping[str, Sequence[str]]
    unchecked: int = 0
    """References and codes not checked, for want of a store (`timeline validate`)."""


def resolve(
    files: Sequence[DossierFile], stored: Stored | None, findings: Findings | None = None
) -> Resolution:
    """Check a batch against itself and the store: headers, codes, references.

    A file naming a stored dossier may leave its header out or extend it: its
    events' codes resolve against everything declared so far, stored or in
    the batch. A header that declares nothing new appends nothing; one that
    adds or redefines codes appends a declaration, and says what it changes.
    Without a store (`stored` None), what only a store could resolve is
    counted in `unchecked`. With `findings`, errors are noted there.
    """
    codes: dict[str, Codes] = {}
    declarations: dict[str, list[Envelope]] = {}
    changes: dict[str, list[str]] = {}
    for dossier_file in files:
        dossier = dossier_file.dossier
        if dossier not in codes:
            codes[dossier] = Codes()
            for envelope in stored.declarations(dossier) if stored else ():
                assert isinstance(envelope.event, DossierDeclared)
                codes[dossier].declare(envelope.event)
        try:
            declaration, news = declare_header(dossier_file, codes[dossier], stored is not None)
        except DossierError as err:
            _found(findings, err)
            continue
        if declaration is not None:
            declarations.setdefault(dossier, []).append(declaration)
            changes.setdefault(dossier, []).extend(news)
    unchecked = 0
    known = {dossier: held.known() for dossier, held in codes.items()}
    for dossier_file in files:
        # Follow-ups of a dossier no store is at hand for: only a store knows its codes.
        partial = stored is None and codes[dossier_file.dossier].title is None
        for envelope in dossier_file.envelopes:
            try:
                check_codes(
                    known[dossier_file.dossier], envelope.event, failing(dossier_file, envelope)
                )
            except DossierError as err:
                if partial:
                    unchecked += 1
                else:
                    _found(findings, err)
    unchecked += _check_references_all(files, stored, findings, known)
    return Resolution(declarations=declarations, changes=changes, unchecked=unchecked)


def declare_header(
    dossier_file: DossierFile | Opened, codes: Codes, stored: bool
) -> tuple[Envelope | None, list[str]]:
    """The declaration `dossier_file`'s header adds to `codes` (None if it adds nothing),
    and what it changes in words (nothing for a new dossier's first header)."""
    header = dossier_file.header
    if codes.title is None and header.title is None:
        if not stored:
            return None, []  # perhaps a follow-up: only a store could tell
        expected = "expected `title:`: the dossier is new, so the header declares it"
        raise _fail(dossier_file.path, header.line, expected, field="title")
    news = codes.changes(header) if codes.title is not None else []
    if codes.title is not None and not news:
        return None, []
    event = DossierDeclared(
        title=header.title or codes.title or "",
        actors=header.actors,
        items=header.items,
        issues=header.issues,
    )
    codes.declare(event)
    envelope = Envelope.new(
        dossier=dossier_file.dossier, key=_header_id(event), occurred=DECLARED_AT, event=event
    )
    return envelope, news


def failing_at(path: str, envelope: Envelope, record: Record) -> Fail:
    """The errors of `envelope`'s fields, at their lines in `record`."""

    def fail(field: str, expected: str) -> DossierError:
        return DossierError(path, record.line_of(field), expected, key=envelope.key, field=field)

    return fail


def failing(dossier_file: DossierFile, envelope: Envelope) -> Fail:
    def fail(field: str, expected: str) -> DossierError:
        line = dossier_file.line_of(envelope.key, field)
        return _fail(dossier_file.path, line, expected, key=envelope.key, field=field)

    return fail


def _check_references_all(
    files: Sequence[DossierFile],
    stored: Stored | None,
    findings: Findings | None,
    known_codes: Mapping[str, Known],
) -> int:
    """References resolve within the batch or the store, to events of the right type;
    returns how many could not be checked, for want of a store."""
    batch: dict[str, dict[str, Envelope]] = {}
    for dossier_file in files:
        names = batch.setdefault(dossier_file.dossier, {})
        for envelope in dossier_file.envelopes:
            if envelope.key in names and envelope.id != names[envelope.key].id:
                where = dossier_file.line_of(envelope.key)
                duplicate = "duplicate key across the files of this import"
                error = _fail(dossier_file.path, where, duplicate, key=envelope.key, field="key")
                _found(findings, error)
            names[envelope.key] = envelope
            names[str(envelope.id)] = envelope
    unchecked = 0
    for dossier_file in files:
        names = batch[dossier_file.dossier]
        wanted = {
            ref for e in dossier_file.envelopes for ref in e.event.references().values()
        } - set(names)
        found = stored.find(dossier_file.dossier, wanted) if stored else {}
        known = {**found, **names}
        for envelope in dossier_file.envelopes:
            try:
                codes = known_codes[dossier_file.dossier]
                unchecked += _check_references(dossier_file, envelope, known, codes, stored is None)
            except DossierError as err:
                _found(findings, err)
    return unchecked


def _check_references(
    dossier_file: DossierFile,
    envelope: Envelope,
    known: Mapping[str, Envelope],
    codes: Known,
    partial: bool,
) -> int:
    """Check one event's references; returns how many could not be (`partial`: no store)."""
    unchecked = 0
    fail = failing(dossier_file, envelope)
    for field, ref in envelope.event.references().items():
        target = known.get(ref)
        if target is None and partial:
            unchecked += 1
            continue
        check_target(envelope, field, ref, target, codes, fail)
    return unchecked


Fail = Callable[[str, str], DossierError]
"""Makes the error for a field of an event: (field, what was expected) -> error."""


def check_target(
    envelope: Envelope,
    field: str,
    ref: str,
    target: Envelope | None,
    codes: Known,
    fail: Fail,
) -> None:
    """One reference of `envelope` (its `field`, naming `ref`), to `target`, which is None
    when found nowhere: it must exist, be of the right type, and a correction must leave
    it valid, the codes it changes known."""
    if target is None:
        expected = f"expected the key or id of an event of dossier {envelope.dossier!r}"
        raise fail(field, f"{expected}, got {ref!r}")
    if field == "request" and not isinstance(target.event, RequestFiled):
        raise fail(field, f"expected a request.filed, {ref!r} is a {target.type}")
    correction = envelope.event
    if field != "corrects" or not isinstance(correction, EventCorrected):
        return
    if isinstance(target.event, EventCorrected | EventRetracted | DossierDeclared):
        raise fail("corrects", f"expected a fact; {target.key!r} is a {target.type}")
    try:
        event, _ = corrected(target.event, target.occurred, correction)
    except InvalidEvent as err:
        raise fail(
            f"changes.{err.path}" if err.path else "changes",
            f"the correction would make {target.key!r} invalid: {err.expected}",
        ) from err
    changed = [name for name, _ in correction.changes]
    check_codes(codes, event, lambda f, e: fail(f"changes.{f}", e), only=changed)
