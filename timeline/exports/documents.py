"""`timeline export`: one format's document of what a timeline holds, to a stream.

The state sections are read as of `as_of` (default: now); the log holds
the facts as corrected, started by `as_of`, both as known at `known_at`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import IO

import attrs

from projections.export import item_to_json
from timeline.engine import Timeline
from timeline.exports import plover, tables, timelinejs
from timeline.exports.headlines import namer
from timeline.interfaces.render import entry_to_json

LOG = "log"
"""The CSV `section` that is the log rather than a state section."""


@attrs.frozen
class Written:
    """How many rows, slides or records were written, and how many facts were left out."""

    count: int
    unit: str
    left_out: int = 0


def export(
    timeline: Timeline,
    form: str,
    out: IO[str],
    *,
    as_of: str | None = None,
    known_at: str | None = None,
    dossier: str | None = None,
    section: str = "positions",
) -> Written:
    """Write `timeline`'s `section` (CSV), or its log (any format), to `out`."""
    if form == "csv" and section != LOG:
        when = as_of if as_of is not None else dt.datetime.now(dt.UTC)
        state = timeline.state(when, known_at=known_at, dossier=dossier, sections=[section])
        items = (item_to_json(item) for item in state.section(section))
        return Written(tables.write_section(out, section, items), "rows")
    entries = timeline.log(dossier=dossier, end=as_of, known_at=known_at)
    if form == "csv":
        return Written(tables.write_log(out, (entry_to_json(e) for e in entries)), "rows")
    chosen = [dossier] if dossier is not None else [s.dossier for s in timeline.dossiers()]
    found = {name: timeline.dossier(name) for name in chosen}
    names = {
        name: namer({d.code: d.name for d in (*f.actors, *f.items, *f.issues)})
        for name, f in found.items()
    }
    if form == "timelinejs":
        titles = {name: f.summary.title for name, f in found.items()}
        document = timelinejs.timeline(entries, titles, names)
        json.dump(document, out, ensure_ascii=False, indent=1)
        out.write("\n")
        return Written(len(document["events"]), "slides")
    records = plover.Records(entries, names)
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return Written(count, "records", left_out=records.uncoded)
