"""Database faults: which are worth trying again, what to say about them, and a loop
that keeps long-running work (a follower, the live feed) going through them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlalchemy as sa

RETRY_FIRST, RETRY_MOST = 0.5, 30.0
"""Seconds to wait after losing the database, doubling from the first to the most."""


def lost(err: sa.exc.DBAPIError) -> bool:
    """Whether an error is the database going away or a lock timing out (worth trying
    again), rather than a statement the database refuses (a bug: raised)."""
    return err.connection_invalidated or isinstance(
        err, sa.exc.OperationalError | sa.exc.InterfaceError
    )


def reason(err: sa.exc.DBAPIError) -> str:
    """The driver's message, first line only: what a person needs, without the SQL."""
    text = str(err.orig).strip() if err.orig is not None else ""
    return text.splitlines()[0] if text else type(err).__name__


def reconnecting(
    work: Callable[[Callable[[], None]], None],
    stop: Callable[[], bool],
    log: logging.Logger,
    what: str,
) -> None:
    """Run `work` until `stop()` is true, again after each lost database.

    `work` gets a callback to call once it is connected and making progress,
    which resets the pause to `RETRY_FIRST`; each loss in a row doubles it.
    """
    pause = RETRY_FIRST

    def connected() -> None:
        nonlocal pause
        pause = RETRY_FIRST

    while not stop():
        try:
            work(connected)
        except sa.exc.DBAPIError as err:
            if not lost(err):
                raise
            log.warning(
                "%s lost the database (%s); trying again in %.1f s", what, reason(err), pause
            )
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline and not stop():
                time.sleep(min(0.1, pause))
            pause = min(2 * pause, RETRY_MOST)
