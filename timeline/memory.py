"""Pausing Python's cycle collector around work that builds large object graphs.

Folding a long history, or thawing a snapshot, allocates hundreds of
thousands of small containers that all stay alive. Each allocation burst
triggers the cycle collector, which then walks the whole growing graph,
finding nothing: it doubles the time of a replay or a thaw. Those graphs hold
no reference cycles, so the collector is paused for the duration and
restored after, whatever happened.
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
            gc.enable()
