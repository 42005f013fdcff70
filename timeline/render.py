"""Text and Markdown views of the JSON contract, for people at a terminal.

Rendering works from the same JSON documents that `--format json` prints,
so what a person reads and what a program parses never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from events import Envelope

JSON = Mapping[str, Any]


def _certain(item: JSON) -> str:
    return "" if item.get("certain", True) else " (uncertain)"


def _events(keys: Sequence[str]) -> str:
    return ", ".join(keys)


def _conditions(position: JSON) -> str:
    parts = []
    for c in position.get("conditions", []):
        what = f"{c['actor']} {c['does']}s" + (f" {c['item']}" if c.get("item") else "")
        parts.append(f"{what}: met by {c['met_by']}" if c["met"] else f"{what}: unmet")
    return "; ".join(parts)


def _quantity(item: JSON, field: str = "quantity") -> str:
    value = item.get(field)
    unknown = item.get("unknown") or []
    text = "" if value is None else str(value)
    if unknown:
        text = f"{text} + unspecified" if text else "unspecified"
    return text


def state_tables(state: JSON, label: str) -> list[Table]:
    """One table per non-empty section of a state document; `label` names the date."""
    tables = []
    positions = Table(title=f"Positions as of {label}")
    for column in ("actor", "issue", "stance", "since", "conditions", "pressed by"):
        positions.add_column(column)
    for p in state["positions"]:
        positions.add_row(
            p["actor"],
            p["issue"],
            p["stance"],
            f"{p['since']}{_certain(p)}",
            _conditions(p),
            ", ".join(p.get("pressed_by", [])),
        )
    tables.append(positions)
    if state["pledges"]:
        pledges = Table(title="Pledges")
        for column in ("donor", "recipient", "item", "category", "pledged", "delivered", "first"):
            pledges.add_column(column)
        for p in state["pledges"]:
            pledges.add_row(
                p["donor"],
                p["recipient"],
                p["item"],
                p["category"],
                _quantity(p),
                "" if p.get("delivered") is None else str(p["delivered"]),
                f"{p['first_announced']}{_certain(p)}" if p["first_announced"] else "",
            )
        tables.append(pledges)
    if state["totals"]:
        totals = Table(title="Totals per category")
        for column in ("category", "at least", "at most", "pledges", "unspecified"):
            totals.add_column(column)
        for t in state["totals"]:
            totals.add_row(
                t["category"],
                str(t["low"]),
                str(t["high"]),
                str(t["pledges"]),
                _events(t.get("unknown", [])),
            )
        tables.append(totals)
    if state["requests"]:
        requests = Table(title="Requests")
        for column in ("request", "from", "to", "ask", "item", "filed", "status"):
            requests.add_column(column)
        for r in state["requests"]:
            status = r["status"] if r["status"] == "open" else f"{r['status']} {r['decided']}"
            requests.add_row(
                r["request"],
                r["requester"],
                r["addressee"],
                r["ask"],
                r.get("item") or "",
                f"{r['filed']}{_certain(r)}",
                status,
            )
        tables.append(requests)
    if state["precedents"]:
        precedents = Table(title="Precedents")
        for column in ("actor", "issue", "threshold", "set by", "when"):
            precedents.add_column(column)
        for p in state["precedents"]:
            precedents.add_row(
                p["actor"], p["issue"], p["threshold"], p["by"], f"{p['occurred']}{_certain(p)}"
            )
        tables.append(precedents)
    if state["pressure"]:
        pressure = Table(title="Pressure")
        for column in ("actor", "on", "issue", "times", "last"):
            pressure.add_column(column)
        for p in state["pressure"]:
            pressure.add_row(p["actor"], p["target"], p["issue"], str(p["count"]), p["last"])
        tables.append(pressure)
    if state["coalitions"]:
        coalitions = Table(title="Committed, in the order they joined")
        coalitions.add_column("issue")
        coalitions.add_column("actors")
        for c in state["coalitions"]:
            coalitions.add_row(c["issue"], " → ".join(c["committed"]))
        tables.append(coalitions)
    return tables


def _summary(item: JSON | None) -> str:
    """A short description of one state item, for a line of a diff."""
    if item is None:
        return "—"
    if "stance" in item:
        conditions = _conditions(item)
        return str(item["stance"]) + (f" [{conditions}]" if conditions else "")
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
    return ""


def _change_line(change: JSON) -> tuple[str, str, str, str]:
    subject = " / ".join(change["key"])
    before, after = _summary(change.get("before")), _summary(change.get("after"))
    if change.get("before") is None:
        what = after
    elif before == after:  # only certainty changed: the dating interval has ended
        what = f"{after} (now {'certain' if change['after'].get('certain') else 'uncertain'})"
    else:
        what = f"{before} → {after}"
    return change["kind"], subject, what, _events(change["events"])


def diff_table(document: JSON, start: str, end: str) -> Table:
    table = Table(title=f"What changed from {start} to {end}")
    for column in ("change", "subject", "what", "because of"):
        table.add_column(column)
    for change in document["changes"]:
        table.add_row(*_change_line(change))
    return table


def diff_markdown(document: JSON, start: str, end: str) -> str:
    """The diff as a Markdown table, for reports and pull requests."""
    lines = [
        f"## What changed from {start} to {end}",
        "",
        "| change | subject | what | because of |",
        "|---|---|---|---|",
    ]
    for change in document["changes"]:
        cells = [cell.replace("|", "\\|") for cell in _change_line(change)]
        lines.append("| " + " | ".join(cells) + " |")
    if not document["changes"]:
        lines.append("| (nothing changed) | | | |")
    return "\n".join(lines) + "\n"


def log_table(envelopes: Iterable[Envelope]) -> Table:
    table = Table(title="Events")
    for column in ("occurred", "key", "type", "actors", "source"):
        table.add_column(column)
    for e in envelopes:
        source = ""
        if e.sources:
            first = e.sources[0]
            source = f"{first.publisher} {first.published}: “{first.quote}”"
        table.add_row(
            str(e.occurred), e.key, e.type, ", ".join(sorted(e.event.named_actors())), source
        )
    return table


def print_all(console: Console, renderables: Iterable[Any]) -> None:
    for renderable in renderables:
        console.print(renderable)
