"""Pure folds of events into state, and diffs between states.

Depends on `events`, attrs, pendulum and the standard library only: no
clock, no I/O, no logging. The engine (`timeline`) supplies the events and
"now"; everything here is a function of its arguments, so the same events
give the same state in any recording order.
"""

from projections.diff import Change, Diff, apply_diff, diff
from projections.export import (
    DIFF_SCHEMA,
    STATE_SCHEMA,
    change_to_json,
    diff_to_json,
    item_to_json,
    state_to_json,
)
from projections.fold import FOLDED_TYPES, Fold, advance, freeze, project
from projections.record import Record, fold_order, settle
from projections.state import (
    OPEN,
    SECTIONS,
    UNCATEGORISED,
    Coalition,
    ConditionStatus,
    FormedCoalition,
    Item,
    Pledge,
    Position,
    Precedent,
    Pressure,
    Request,
    State,
    Total,
)

__all__ = [
    "DIFF_SCHEMA",
    "FOLDED_TYPES",
    "OPEN",
    "SECTIONS",
    "STATE_SCHEMA",
    "UNCATEGORISED",
    "Change",
    "Coalition",
    "ConditionStatus",
    "Diff",
    "Fold",
    "FormedCoalition",
    "Item",
    "Pledge",
    "Position",
    "Precedent",
    "Pressure",
    "Record",
    "Request",
    "State",
    "Total",
    "advance",
    "apply_diff",
    "change_to_json",
    "diff",
    "diff_to_json",
    "fold_order",
    "freeze",
    "item_to_json",
    "project",
    "settle",
    "state_to_json",
]
