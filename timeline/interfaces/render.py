"""Text and Markdown views of the JSON contract, for people at a terminal.

Rendering works from the same JSON documents that `--format json` prints,
so what a person reads and what a program parses never drift apart. Every
value from a dossier goes into a cell as plain text (`rich.text.Text`),
never as markup: a key or a quote with brackets prints as written. Control
characters (an escape sequence in a note, a carriage return in a quote) are
shown as `\x1b`, `\r`..., never sent to the terminal: text is data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from events.codec import envelope_to_dict
from projections.refs import Ref
from timeline.log import Entry

JSON = Mapping[str, Any]
LOG_SCHEMA = "timeline.log/2"


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """One event of the feed: the envelope's fields, and the fixes behind what it shows."""
    document = envelope_to_dict(entry.envelope)
    document["corrected_by"] = [_ref(r) for r in entry.corrected_by]
    document["retracted_by"] = [_ref(r) for r in entry.retracted_by]
    return document


def _ref(ref: Ref) -> dict[str, str]:
    return {"dossier": ref.dossier, "key": ref.key}


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """`text` with every control character written out as a Python escape."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=Text(visible(title)))
    for column in columns:
        table.add_column(column)
    return table


def _row(table: Table, *cells: object) -> None:
    table.add_row(*(Text("" if cell is None else visible(str(cell))) for cell in cells))


def _certain(item: JSON) -> str:
    return "" if item.get("certain", True) else " (uncertain)"


def _keys(refs: Iterable[JSON]) -> str:
    return ", ".join(r["key"] for r in refs)


def _condition(position: JSON) -> str:
    c = position.get("condition")
    if not c:
        return ""
    what = f"{c['actor']} {c['does']}s" + (f" {c['item']}" if c.get("item") else "")
    return f"{what}: met by {c['met_by']['key']}" if c["met"] else f"{what}: unmet"


def _quantity(item: JSON, field: str = "quantity") -> str:
    value = item.get(field)
    unknown = item.get("unknown") or []
    text = "" if value is None else str(value)
    if unknown:
        text = f"{text} + unspecified" if text else "unspecified"
    return text


def state_tables(state: JSON, label: str) -> list[Table]:
    """One table per non-empty section of a state document; `label` names the date.

    A dossier column appears when the state holds more than one dossier.
    """
    dossiers = {
        i["dossier"] for name, items in state.items() if isinstance(items, list) for i in items
    }
    lead = ["dossier"] if len(dossiers) > 1 else []

    def first(item: JSON) -> list[object]:
        return [item["dossier"]] if lead else []

    tables = []
    positions = _table(
        f"Positions as of {label}",
        [*lead, "actor", "issue", "stance", "since", "condition", "pressed by"],
    )
    for p in state.get("positions", []):
        _row(
            positions,
            *first(p),
            p["actor"],
            p["issue"],
            p["stance"],
            f"{p['since']}{_certain(p)}",
            _condition(p),
            ", ".join(p.get("pressed_by", [])),
        )
    tables.append(positions)
    if state.get("pledges"):
        pledges = _table(
            "Pledges",
            [*lead, "donor", "recipient", "item", "category", "pledged", "delivered", "first"],
        )
        for p in state["pledges"]:
            _row(
                pledges,
                *first(p),
                p["donor"],
                p["recipient"],
                p["item"],
                p["category"],
                _quantity(p),
                p.get("delivered"),
                f"{p['first_announced']}{_certain(p)}" if p["first_announced"] else "",
            )
        tables.append(pledges)
    if state.get("totals"):
        totals = _table(
            "Totals per category",
            [*lead, "category", "at least", "at most", "pledges", "unspecified", "delivered"],
        )
        for t in state["totals"]:
            low, high = t["delivered_low"], t["delivered_high"]
            _row(
                totals,
                *first(t),
                t["category"],
                t["low"],
                t["high"],
                t["pledges"],
                t["unknown"] or "",
                low if low == high else f"{low}-{high}",
            )
        tables.append(totals)
    if state.get("requests"):
        requests = _table(
            "Requests", [*lead, "request", "from", "to", "ask", "item", "filed", "status"]
        )
        for r in state["requests"]:
            status = r["status"] if r["status"] == "open" else f"{r['status']} {r['decided']}"
            _row(
                requests,
                *first(r),
                r["request"],
                r["requester"],
                r["addressee"],
                r["ask"],
                r.get("item"),
                f"{r['filed']}{_certain(r)}",
                status,
            )
        tables.append(requests)
    if state.get("precedents"):
        precedents = _table("Precedents", [*lead, "actor", "issue", "threshold", "set by", "when"])
        for p in state["precedents"]:
            _row(
                precedents,
                *first(p),
                p["actor"],
                p["issue"],
                p["threshold"],
                p["by"]["key"],
                f"{p['occurred']}{_certain(p)}",
            )
        tables.append(precedents)
    if state.get("pressure"):
        pressure = _table("Pressure", [*lead, "actor", "on", "issue", "times", "last"])
        for p in state["pressure"]:
            _row(pressure, *first(p), p["actor"], p["target"], p["issue"], p["count"], p["last"])
        tables.append(pressure)
    if state.get("coalitions"):
        coalitions = _table("Committed, in the order they joined", [*lead, "issue", "actors"])
        for c in state["coalitions"]:
            _row(coalitions, *first(c), c["issue"], " → ".join(c["committed"]))
        tables.append(coalitions)
    if state.get("formed"):
        formed = _table(
            "Coalitions formed", [*lead, "coalition", "issue", "members", "leads", "when"]
        )
        for f in state["formed"]:
            _row(
                formed,
                *first(f),
                f["coalition"],
                f["issue"],
                ", ".join(f["members"]),
                ", ".join(f["leads"]),
                f"{f['occurred']}{_certain(f)}",
            )
        tables.append(formed)
    return tables


def _summary(item: JSON | None) -> str:
    """A short description of one state item, for a line of a diff or a history."""
    if item is None:
        return "—"
    if "stance" in item:
        condition = _condition(item)
        return str(item["stance"]) + (f" [{condition}]" if condition else "")
    if "first_announced" in item:
        return f"{_quantity(item)} {item['item']}".strip()
    if "status" in item:
        return str(item["status"])
    if "low" in item:
        low, high = item["low"], item["high"]
        text = str(low) if low == high else f"{low}-{high}"
        return text + (" + unspecified" if item.get("unknown") else "")
    if "threshold" in item:
        return str(item["threshold"])
    if "count" in item:
        return f"{item['count']}x, last {item['last']}"
    if "committed" in item:
        return ", ".join(item["committed"])
    if "members" in item:
        return f"{item['coalition']}: {', '.join(item['members'])}"
    return ""


def _change_line(change: JSON) -> tuple[str, str, str, str]:
    subject = " / ".join(change["key"][1:])
    before, after = _summary(change.get("before")), _summary(change.get("after"))
    if change.get("before") is None:
        what = after
    elif before == after:  # only certainty changed: the dating interval has ended
        certain = change["after"] is not None and change["after"].get("certain")
        what = f"{after} (now {'certain' if certain else 'uncertain'})"
    else:
        what = f"{before} → {after}"
    return change["kind"], subject, what, _keys(change["events"])


def diff_table(document: JSON, start: str, end: str) -> Table:
    table = _table(
        f"What changed from {start} to {end}", ["change", "subject", "what", "because of"]
    )
    for change in document["changes"]:
        _row(table, *_change_line(change))
    return table


def _markdown_cell(text: str) -> str:
    """Plain text in a Markdown table cell: pipes and line breaks escaped."""
    return visible(text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def diff_markdown(document: JSON, start: str, end: str) -> str:
    """The diff as a Markdown table, for reports and pull requests."""
    lines = [
        f"## What changed from {start} to {end}",
        "",
        "| change | subject | what | because of |",
        "|---|---|---|---|",
    ]
    for change in document["changes"]:
        lines.append("| " + " | ".join(_markdown_cell(c) for c in _change_line(change)) + " |")
    if not document["changes"]:
        lines.append("| (nothing changed) | | | |")
    return "\n".join(lines) + "\n"


def history_table(document: JSON) -> Table:
    """Every version of one item: from when, what it was, and the events behind it."""
    subject = " / ".join(document["key"])
    table = _table(
        f"History of {document['section']} {subject}", ["from", "until", "what", "because of"]
    )
    for version in document["versions"]:
        item = version["item"]
        _row(
            table,
            version["valid_from"],
            version["valid_to"] or "",
            _summary(item),
            _keys(item["events"]),
        )
    return table


def log_table(entries: Iterable[Entry]) -> Table:
    table = _table("Events", ["occurred", "key", "type", "actors", "source", "fixed by"])
    for entry in entries:
        e = entry.envelope
        source = ""
        if e.sources:
            first = e.sources[0]
            source = f"{first.publisher} {first.published}: “{first.quote}”"
        fixes = [f"corrected by {r.key}" for r in entry.corrected_by]
        fixes += [f"retracted by {r.key}" for r in entry.retracted_by]
        _row(
            table,
            e.occurred,
            e.key,
            e.type,
            ", ".join(sorted(e.event.named_actors())),
            source,
            "; ".join(fixes),
        )
    return table


def print_all(console: Console, renderables: Iterable[Any]) -> None:
    for renderable in renderables:
        console.print(renderable)
