"""Pure folds of events into versioned state items, and diffs between states.

Depends on `events`, attrs, pendulum and the standard library only: no
clock, no I/O, no logging. The engine (`timeline`) supplies the events and
"now"; everything here is a function of its arguments, so the same events
give the same state in any recording order. Each section has a module
(`positions`, `pledges`, `totals`, `requests`, `precedents`, `pressure`,
`coalitions`, `formed`) holding its item, how facts change it, and its diff
kinds; `fold` runs them, `state` and `diff` read them, `export` writes JSON.
"""

from projections.coalitions import Coalition
from projections.diff import Change, Diff, apply_diff, compare, diff
from projections.export import (
    DIFF_SCHEMA,
    HISTORY_SCHEMA,
    STATE_SCHEMA,
    change_to_json,
    diff_to_json,
    history_to_json,
    item_to_json,
    state_to_json,
)
from projections.fold import FOLDED_TYPES, DossierFold, History, Version, project
from projections.formed import Formed
from projections.items import item_key
from projections.pledges import Pledge
from projections.positions import ConditionStatus, Position
from projections.precedents import Precedent
from projections.pressure import Pressure
from projections.record import UNCATEGORISED, Record, fold_order, settle
from projections.refs import Ref
from projections.requests import OPEN, Request
from projections.state import EVERYTHING, SECTIONS, Filter, Item, State
from projections.totals import Total

__all__ = [
    "DIFF_SCHEMA",
    "EVERYTHING",
    "FOLDED_TYPES",
    "HISTORY_SCHEMA",
    "OPEN",
    "SECTIONS",
    "STATE_SCHEMA",
    "UNCATEGORISED",
    "Change",
    "Coalition",
    "ConditionStatus",
    "Diff",
    "DossierFold",
    "Filter",
    "Formed",
    "History",
    "Item",
    "Pledge",
    "Position",
    "Precedent",
    "Pressure",
    "Record",
    "Ref",
    "Request",
    "State",
    "Total",
    "Version",
    "apply_diff",
    "change_to_json",
    "compare",
    "diff",
    "diff_to_json",
    "fold_order",
    "history_to_json",
    "item_key",
    "item_to_json",
    "project",
    "settle",
    "state_to_json",
]
