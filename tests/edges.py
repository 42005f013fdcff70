"""Dossier files drawn at the edges of what the import accepts.

Unlike `tests.strategies`, which builds events in a small world, this draws
the *files* a curator or a program could write: every text at its longest
and full of markup brackets, escape sequences and control characters; codes
and keys of the longest allowed length; quantities at the per-source maximum,
several on one item so that sums pass it; dates at the first and last day
the engine can hold, in every precision. Each drawn file is a plain mapping,
written as YAML or JSON Lines by `write`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from events.quantity import MAXIMUM
from timeline.dossiers.files import MAX_TEXT
from timeline.store.schema import NAME_LENGTH

TRICKY = (
    "[/oops]",
    "[bold red]",
    "[link=http://x]",
    "\x1b[31m",
    "\x1b]0;title\x07",
    "\x07",
    "\r",
    "\t",
    "\u202e",
    "\u2028",
    "\\",
    "%s",
    "{0}",
    "'",
    '"',
    "é",
    "\U0001f600",
    " ",
)
"""Pieces of text a renderer may take for markup, an escape or a format."""

FIRST_DAY = "0001-01-01"
LAST_DAY = "9999-12-30"
"""The first and last day an `occurred` may name (a day's end must be a datetime)."""

DATES = (
    FIRST_DAY,
    LAST_DAY,
    "0001-01-01T00:00:00Z",
    "9999-12-30T23:59:59+00:00",
    "0001-W01",
    "9999-W51",
    "0001-01",
    "9999-11",
    "0001",
    "9998",
    f"{FIRST_DAY}/{LAST_DAY}",
    "2023-01-25",
)


def _filled(piece: str, length: int) -> str:
    """`piece` repeated to exactly `length` characters, ending in a non-space."""
    return (piece * (length // len(piece) + 1))[: length - 1] + "x"


def texts(limit: int = MAX_TEXT) -> st.SearchStrategy[str]:
    """Text with something visible in it: short and tricky, or exactly `limit` long."""
    short = st.lists(st.sampled_from(TRICKY), min_size=1, max_size=4).map(
        lambda p: "".join(p) + "x"
    )
    longest = st.sampled_from(TRICKY).map(lambda piece: _filled(piece, limit))
    return short | longest


def codes() -> st.SearchStrategy[str]:
    """Declared codes and keys: tricky, or of the longest length a column holds."""
    return texts(NAME_LENGTH)


def quantities() -> st.SearchStrategy[int | str]:
    return st.sampled_from((MAXIMUM, MAXIMUM - 1, f"0-{MAXIMUM}", f"<{MAXIMUM}", 0, 1))


@st.composite
def dossiers(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """One dossier named `name`: a header declaring tricky codes, then events."""
    actor, item, issue = draw(codes()), draw(codes()), draw(codes())
    actors = [actor, "DEU", "UKR"]
    source = {"publisher": draw(texts()), "published": "2023-01-25"}
    if draw(st.booleans()):
        source |= {"title": draw(texts()), "url": draw(texts())}
    header = {
        "dossier": name,
        "title": draw(texts()),
        "actors": {actor: draw(texts())},
        "items": {item: {"name": draw(texts()), "category": draw(codes())}},
        "issues": {issue: draw(texts())},
        "sources": {"s": source},
    }
    events: list[dict[str, Any]] = []

    def add(kind: str, **payload: Any) -> str:
        key = draw(codes().filter(lambda k: k not in {e["key"] for e in events}))
        cite = {"cite": "s", "quote": draw(texts())}
        events.append(
            {"key": key, "type": kind, "occurred": draw(st.sampled_from(DATES))}
            | payload
            | {"sources": [cite]}
        )
        return key

    who = st.sampled_from(actors)
    for _ in range(draw(st.integers(1, 4))):
        add(
            "pledge.announced",
            donor=draw(who),
            recipient="UKR",
            issue=issue,
            item=item,
            quantity=draw(quantities()),
            eta=draw(st.sampled_from(DATES)),
            conditions=draw(st.lists(texts(), max_size=2)),
            note=draw(texts()),
        )
    stated = add(
        "position.stated",
        actor=draw(who),
        issue=issue,
        stance=draw(st.sampled_from(["opposed", "conditional", "committed"])),
        condition={"actor": draw(who), "does": "pledge", "item": item},
        note=draw(texts()),
    )
    add("pressure.applied", actors=[draw(who)], target=draw(who), issue=issue, note=draw(texts()))
    request = add(
        "request.filed",
        requester=draw(who),
        addressee=draw(who),
        issue=issue,
        ask="re-export",
        item=item,
        quantity=draw(quantities()),
    )
    add("request.decided", request=request, decision="approved", by=draw(who))
    add("precedent.set", actor=draw(who), issue=issue, threshold=draw(texts()), by=stated)
    add("statement.issued", actor=draw(who), issue=issue, tone="critical", summary=draw(texts()))
    add("coalition.formed", coalition=actor, members=["DEU", "UKR"], leads=["DEU"], issue=issue)
    add("delivery.reported", donor=draw(who), recipient="UKR", item=item, quantity=MAXIMUM)
    corrected = {"occurred": draw(st.sampled_from(DATES)), "quantity": draw(quantities())}
    add("event.corrected", corrects=events[0]["key"], changes=corrected)
    if draw(st.booleans()):
        add("event.retracted", retracts=stated, reason=draw(texts()))
    return header | {"events": events}


_EXAMPLES: dict[str, int] = {}
"""Examples run so far against each test database."""


def example(url: str) -> int:
    """This example's number in the database at `url` (1 for the first, which makes the
    schema), so that each example imports a dossier of its own beside the earlier ones."""
    from timeline.interfaces.cli import main

    if url not in _EXAMPLES:
        assert main(["init", "--db", url]) == 0
    _EXAMPLES[url] = _EXAMPLES.get(url, 0) + 1
    return _EXAMPLES[url]


def write(dossier: dict[str, Any], folder: Path, form: str) -> Path:
    """The dossier as a file of `form` ("yaml" or "jsonl") in `folder`."""
    if form == "yaml":
        path = folder / "edges.yaml"
        path.write_text(yaml.safe_dump(dossier, allow_unicode=True, width=2**20), "utf-8")
        return path
    header = {k: v for k, v in dossier.items() if k != "events"}
    lines = [json.dumps(record) for record in (header, *dossier["events"])]
    path = folder / "edges.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path
