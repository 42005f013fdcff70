"""TimelineJS 3: the log as a slide show on a time axis (Knight Lab's JSON format).

Each fact is a slide dated at the precision its sources give: a day is
``{year, month, day}``, a month ``{year, month}``, a week or a span a start
and an end date, an instant every part down to the second (in UTC), and
`display_date` shows the date as written (``2023-W03``). The headline says
what the fact says in the dossier's names; the first source is the slide's
media (its page where it has a URL, else its quote as a blockquote), with
publisher and date as the credit; every source is listed in the text.

TimelineJS renders headlines, texts, captions and credits as HTML, so every
value from a dossier is escaped, and only plain http(s) addresses become
links or media.
Dates are numbers, as TimelineJS requires (it reads a missing year as year
0 and skips a slide without a `start_date` without a word).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from events import Envelope, Occurred, Precision, Source
from timeline.exports.headlines import STATES, Names, headline, story
from timeline.log import Entry

JSON = dict[str, Any]


def _day(day: dt.datetime) -> JSON:
    return {"year": day.year, "month": day.month, "day": day.day}


def dates(occurred: Occurred) -> tuple[JSON, JSON | None]:
    """The start and (for an interval of several days) end date objects of `occurred`."""
    start = occurred.start
    match occurred.precision:
        case Precision.INSTANT:
            utc = start.astimezone(dt.UTC)
            moment = {"hour": utc.hour, "minute": utc.minute, "second": utc.second}
            return {**_day(utc), **moment}, None
        case Precision.DAY:
            return _day(start), None
        case Precision.MONTH:
            return {"year": start.year, "month": start.month}, None
        case Precision.YEAR:
            return {"year": start.year}, None
    return _day(start), _day(occurred.end - dt.timedelta(days=1))  # a week or a span


_WEB = re.compile(r"https?://[^\s\"'<>\\`]+")


def _web(source: Source) -> str | None:
    """The source's address if it is a plain http(s) URL, safe in an attribute or a frame."""
    return source.url if source.url and _WEB.fullmatch(source.url) else None


def _link(source: Source) -> str:
    """The source as HTML: publisher (a link where it has a web address), date, quote."""
    who = html.escape(source.publisher)
    if url := _web(source):
        who = f'<a href="{html.escape(url)}">{who}</a>'
    title = f", <cite>{html.escape(source.title)}</cite>" if source.title else ""
    return f"{who}{title}, {source.published.isoformat()}: “{html.escape(source.quote)}”"


def _media(source: Source) -> JSON:
    credit = html.escape(f"{source.publisher}, {source.published.isoformat()}")
    if url := _web(source):
        return {"url": url, "credit": credit, "caption": html.escape(source.quote)}
    return {"url": f"<blockquote>{html.escape(source.quote)}</blockquote>", "credit": credit}


def slide(entry: Entry, name: Names) -> JSON:
    """One fact as a TimelineJS slide."""
    envelope: Envelope = entry.envelope
    start, end = dates(envelope.occurred)
    paragraphs = [f"<p>{html.escape(said)}</p>" for said in [story(envelope.event)] if said]
    if envelope.sources:
        items = "".join(f"<li>{_link(s)}</li>" for s in envelope.sources)
        paragraphs.append(f"<ul>{items}</ul>")
    if entry.corrected_by:
        fixes = ", ".join(html.escape(ref.key) for ref in entry.corrected_by)
        paragraphs.append(f"<p>Corrected by {fixes}.</p>")
    document: JSON = {
        "unique_id": f"event-{envelope.id}",
        "start_date": start,
        "display_date": str(envelope.occurred),
        "text": {
            "headline": html.escape(headline(envelope.event, name)),
            "text": "".join(paragraphs),
        },
        "group": envelope.type.split(".")[0],
    }
    if end is not None:
        document["end_date"] = end
    if envelope.sources:
        document["media"] = _media(envelope.sources[0])
    return document


def timeline(
    entries: Iterable[Entry],
    titles: Mapping[str, str | None],
    names: Mapping[str, Names],
) -> JSON:
    """The TimelineJS document of `entries`: a title slide naming the dossiers, then the facts.

    `titles` holds each dossier's title, `names` each dossier's names
    (`headlines.namer`).
    """
    events = [slide(e, names.get(e.envelope.dossier, STATES)) for e in entries]
    headings = [title or dossier for dossier, title in titles.items()]
    title = {
        "text": {
            "headline": html.escape("; ".join(headings)),
            "text": "<p>" + html.escape(", ".join(titles)) + "</p>",
        }
    }
    return {"title": title, "events": events}
