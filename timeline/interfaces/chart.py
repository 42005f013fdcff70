"""`timeline chart`: the page's stance lanes and pledged totals as one SVG, without a server.

For a slide or an article: the same lanes (a band per version of each
position, coloured in the stance order, an uncertain start drawn pale and
dashed, a condition marked met or unmet) and the same stepped totals per
item category as the page at `/`, drawn from the same read models. The SVG
is built with ElementTree, so every name from a dossier is escaped as text,
and control characters, which XML cannot hold, are shown as `\x1b`.
PNG is the SVG rasterised by CairoSVG (the `png` extra), where installed.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from projections.fold import Version
from timeline.engine import Timeline
from timeline.interfaces.render import visible

STANCES = ("opposed", "reluctant", "undecided", "conditional", "supportive", "committed")
COLOURS = {  # the page's scale (ColorBrewer RdBu), with the ink that reads on it
    "opposed": ("#b2182b", "#fff"),
    "reluctant": ("#ef8a62", "#000"),
    "undecided": ("#e0e0e0", "#000"),
    "conditional": ("#d1e5f0", "#000"),
    "supportive": ("#67a9cf", "#000"),
    "committed": ("#2166ac", "#fff"),
}
LAST_DAY = "9999-12-30"
WIDTH, LABEL, LANE, ROW = 900, 170, 28, 46
_DAY = dt.timedelta(days=1)
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


class _Axis:
    """Valid time to x, over the span the drawn versions cover."""

    def __init__(self, first: dt.datetime, last: dt.datetime) -> None:
        # A day's margin each side, where the calendar has one (not before year 1).
        self.first = first - _DAY if first - _EARLIEST > _DAY else first
        self.last = last + _DAY if _LATEST - last > _DAY else last
        self.span = max((self.last - self.first).total_seconds(), 1.0)

    def x(self, moment: dt.datetime | None) -> float:
        moment = self.last if moment is None else min(max(moment, self.first), self.last)
        share = (moment - self.first).total_seconds() / self.span
        return round(LABEL + share * (WIDTH - LABEL - 10), 1)


def _element(
    parent: ET.Element, tag: str, text: str | None = None, **attributes: Any
) -> ET.Element:
    named = {k.rstrip("_").replace("_", "-"): visible(str(v)) for k, v in attributes.items()}
    made = ET.SubElement(parent, tag, named)
    if text is not None:
        made.text = visible(text)
    return made


def _stance(item: Any) -> str:
    said = str(item.stance)
    if item.condition is not None:
        what = f" {item.condition.item}" if item.condition.item else ""
        met = "met" if item.condition.met else "unmet"
        said += f", if {item.condition.actor} {item.condition.does}s{what} ({met})"
    return said


def _lane(
    group: ET.Element, axis: _Axis, top: int, label: str, versions: Sequence[Version]
) -> None:
    _element(group, "text", label, x=0, y=top + 18, class_="label")
    for version in versions:
        item = version.item
        fill, ink = COLOURS[str(item.stance)]
        x = axis.x(version.valid_from)
        width = max(axis.x(version.valid_to) - x, 2)
        band = _element(
            group, "rect", x=x, y=top + 4, width=width, height=LANE - 8, fill=fill,
            data_stance=item.stance,
        )  # fmt: skip
        _element(band, "title", f"{label}: {_stance(item)} from {item.since}")
        uncertain = item.since.end - item.since.start > _DAY
        if uncertain:  # changed some day within a week or a span
            edge = min(axis.x(item.since.end) - x, width)
            _element(group, "rect", x=x, y=top + 4, width=edge, height=LANE - 8, class_="uncertain")
        if width > 70:
            text = str(item.stance)
            if item.condition is not None:
                text += " (met)" if item.condition.met else " (unmet)"
            _element(group, "text", text, x=x + 4, y=top + 18, fill="#000" if uncertain else ink)


def _ticks(drawing: ET.Element, axis: _Axis, height: int) -> None:
    for i in range(7):
        moment = axis.first + (axis.last - axis.first) * i / 6
        x = axis.x(moment)
        _element(drawing, "line", x1=x, x2=x, y1=0, y2=height, class_="tick")
        anchor = "end" if i == 6 else "middle"
        label = moment.date().isoformat()
        _element(drawing, "text", label, x=x, y=height + 12, class_="small", text_anchor=anchor)


def chart(
    timeline: Timeline,
    dossier: str,
    *,
    issue: str | None = None,
    known_at: str | None = None,
) -> str:
    """The SVG of `dossier`'s positions (on `issue`, or every issue) and pledged totals."""
    state = timeline.state(
        LAST_DAY, known_at=known_at, dossier=dossier, issue=issue, sections=["positions"]
    )
    lanes = [
        (p, timeline.history("positions", (p.actor, p.issue), dossier=dossier, known_at=known_at))
        for p in state.positions
    ]
    totals = timeline.state(LAST_DAY, known_at=known_at, dossier=dossier, sections=["totals"])
    steps = [
        timeline.history("totals", (t.category,), dossier=dossier, known_at=known_at)[1]
        for t in totals.totals
    ]
    versions = [v for _, (_, found) in lanes for v in found] + [v for s in steps for v in s]
    starts = [v.valid_from for v in versions] or [dt.datetime.now(dt.UTC)]
    ends = [v.valid_to for v in versions if v.valid_to is not None] + starts
    axis = _Axis(min(starts), max(ends))
    issues = {p.issue for p, _ in lanes}
    height = len(lanes) * LANE + 40 + len(steps) * ROW + 10
    drawing = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {height}",
            "width": str(WIDTH),
            "height": str(height),
            "role": "img",
        },
    )
    heading = f"{dossier}: positions" + (f" on {issue}" if issue else "")
    _element(drawing, "title", heading)
    _element(
        drawing, "style",
        "text{font:12px sans-serif}.small{font-size:10px;fill:#444}.tick{stroke:#ddd}"
        ".uncertain{fill:rgba(255,255,255,.55);stroke:#555;stroke-dasharray:3 2}"
        ".step{fill:none;stroke:#2166ac;stroke-width:2}.low{stroke-dasharray:4 3}"
        ".delivered{stroke:#1b7837}",
    )  # fmt: skip
    _ticks(drawing, axis, len(lanes) * LANE)
    for row, (position, (_, found)) in enumerate(lanes):
        label = position.actor + (f" · {position.issue}" if len(issues) > 1 else "")
        group = _element(drawing, "g", class_="lane", data_actor=position.actor)
        _lane(group, axis, row * LANE, label, found)
    legend = _element(drawing, "g", class_="legend")
    for index, stance in enumerate(STANCES):
        x, y = LABEL + index * 110, len(lanes) * LANE + 22
        _element(legend, "rect", x=x, y=y, width=14, height=10, fill=COLOURS[stance][0])
        _element(legend, "text", stance, x=x + 18, y=y + 9, class_="small")
    top = len(lanes) * LANE + 40
    for row, found in enumerate(steps):
        _totals(drawing, axis, top + row * ROW, found)
    return ET.tostring(drawing, encoding="unicode")


def _totals(drawing: ET.Element, axis: _Axis, top: int, versions: Sequence[Version]) -> None:
    """One category's units pledged and delivered as stepped lines (dashed: a range's low
    end)."""
    highest: int = max([1, *(v.item.high for v in versions)])

    def y(value: int) -> float:
        return round(top + ROW - 6 - value / highest * (ROW - 14), 1)

    def path(field: str) -> str:
        drawn = f"M{axis.x(axis.first)},{y(0)}"
        for version in versions:
            drawn += f" H{axis.x(version.valid_from)} V{y(getattr(version.item, field))}"
        return drawn + f" H{axis.x(axis.last)}"

    last = versions[-1].item
    group = _element(drawing, "g", class_="total", data_category=last.category)
    _element(group, "text", str(last.category), x=0, y=top + 20)
    pledged, delivered = (
        _range(last.low, last.high),
        _range(last.delivered_low, last.delivered_high),
    )
    _element(
        group, "text", f"up to {pledged}, {delivered} delivered", x=0, y=top + 34, class_="small"
    )
    _element(group, "path", d=path("high"), class_="step")
    if any(v.item.low != v.item.high for v in versions):
        _element(group, "path", d=path("low"), class_="step low")
    if any(v.item.delivered_high for v in versions):
        _element(group, "path", d=path("delivered_high"), class_="step delivered")
    if any(v.item.delivered_low != v.item.delivered_high for v in versions):
        _element(group, "path", d=path("delivered_low"), class_="step delivered low")


def _range(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low}-{high}"


class NoRasteriser(Exception):
    """PNG was asked for where CairoSVG, or the Cairo library it loads, is missing."""


def png(svg: str) -> bytes:
    """The SVG rasterised at twice its size, for screens that need it sharp."""
    try:
        import cairosvg
    except (ImportError, OSError) as err:  # OSError: the Cairo library is missing
        raise NoRasteriser(str(err)) from err
    found: bytes = cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=2)
    return found
