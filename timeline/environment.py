"""What the environment says about where the store is and how long to wait for it.

Kept apart from `timeline.store.database` (which loads SQLAlchemy): the CLI
reads these to build its options, and must start without loading a database
stack for `--help`.
"""

from __future__ import annotations

import os

DEFAULT_URL = "sqlite:///timeline.db"
LOCK_TIMEOUT = "TIMELINE_LOCK_TIMEOUT"
"""The variable that sets how long a statement waits for another writer's lock."""


def default_url() -> str:
    """`$TIMELINE_DB`, else the embedded database in the working directory."""
    return os.environ.get("TIMELINE_DB") or DEFAULT_URL
