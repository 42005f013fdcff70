"""Pausing Python's cycle collector around work that builds large object graphs.

Folding a long history, or thawing a snapshot, allocates hundreds of
thousands of small containers that all stay alive. Each allocation burst
triggers the cycle collector, which then walks the whole growing graph,
finding nothing: it doubles the time of a replay or a thaw. Those graphs hold
no reference cycles, so the collector is paused for the duration and
restored after, whatever happened.

Restoring it is not free either: everything allocated during the pause sits
in the youngest generation, and the first collection after it would walk it
all (about a second for the state of a million events, a third of a query).
So the pause ends by moving every tracked object straight to the oldest
generation (`gc.freeze` then `gc.unfreeze`), which only a full collection
walks. Nothing is leaked for good: a cycle among them is freed by the next
full collection, later than a young one would have freed it. A host that
froze objects itself (before forking workers, say) keeps them frozen: then
the pause ends as a plain `gc.enable`.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cycle collector off, if it was on; restore it after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()
