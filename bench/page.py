"""The timeline page on a large history: how long each API call it makes takes, in the browser.

Starts `timeline serve` on a database (building a synthetic history in it
once, as `bench/serve.py` does, if it is empty), waits until `/healthz`
says the server has started (its follower caught up and the log's
corrections worked out, as a server running for a while has), opens the page in the
system's Chromium (Playwright), first view then as-of moves to random days,
and reads the browser's own resource timings of every `/api/` call: per
endpoint, the calls, and p50 / p99 of the time from sending the request to
the end of the response (and of the whole duration, queueing in the browser
included), and each view's time until the page says what it shows. Figures
are printed, never asserted.

    .venv/bin/python bench/page.py --db sqlite:////tmp/bench-1m.db     # builds it once
    .venv/bin/python bench/page.py --db sqlite:////tmp/page.db --events 20000 --moves 5
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import random
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # test-only code: the server, the history
sys.path.insert(0, str(Path(__file__).parent))

import serve
import sqlalchemy as sa
from playwright.sync_api import Page, sync_playwright

from tests.serving import serving
from timeline.store.schema import events as table

_TIMINGS = """() => performance.getEntriesByType("resource")
  .filter((e) => e.name.includes("/api/"))
  .map((e) => ({name: e.name, sent: e.responseEnd - e.requestStart, whole: e.duration}))"""


def _view(page: Page, url: str | None = None) -> tuple[float, list[dict[str, Any]]]:
    """Open `url` (or submit the form), wait until the page says what it shows; its time
    and the API calls it made."""
    page.evaluate("performance.clearResourceTimings()")
    began = time.perf_counter()
    if url is None:
        page.locator("#controls button").click()
    else:
        page.goto(url)
    page.wait_for_function(
        "/^(As of|Error)/.test(document.getElementById('status').textContent)", timeout=600_000
    )
    took = time.perf_counter() - began
    status = page.locator("#status").inner_text()
    if status.startswith("Error"):
        raise SystemExit(f"the page failed: {status}")
    return took, page.evaluate(_TIMINGS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite:////tmp/bench-1m.db", help="database URL")
    parser.add_argument("--events", type=int, default=1_000_000, help="history size, if built")
    parser.add_argument("--moves", type=int, default=20, help="as-of moves after the first view")
    options = parser.parse_args()
    store = serve.prepare(options.db, options.events)
    print(f"{store.head():,} events in {options.db}", flush=True)
    with store.engine.connect() as conn:
        span = conn.execute(
            sa.select(sa.func.min(table.c.occurred_start), sa.func.max(table.c.occurred_start))
        ).one()
    store.engine.dispose()
    first_day, last_day = (dt.date.fromisoformat(str(value)[:10]) for value in span)
    days = [(first_day + (last_day - first_day) * i / 24).isoformat() for i in range(1, 24)]
    chromium = os.environ.get("TIMELINE_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no Chromium: install the chromium package or set TIMELINE_CHROMIUM")
    rng = random.Random(1)
    calls: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    views: dict[str, list[float]] = collections.defaultdict(list)
    with serving(options.db, token=None) as server, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        waited = time.perf_counter()
        while not server.client().get("/healthz").json()["started"]:
            time.sleep(0.1)
        print(f"  the server started in {time.perf_counter() - waited:.1f} s", flush=True)
        dossier = server.client().get("/api/dossiers").json()["dossiers"][0]["dossier"]
        issue = server.client().get(f"/api/dossiers/{dossier}").json()["issues"][0]["code"]
        first = f"{server.url}/?dossier={dossier}&issue={issue}&as_of={rng.choice(days)}"
        for kind, url in [("first view", first), *[("as-of move", None)] * options.moves]:
            if url is None:
                page.locator("#as-of").fill(rng.choice(days))
            took, timings = _view(page, url)
            views[kind].append(took)
            for timing in timings:
                endpoint = re.sub(r"/api/(\w+).*", r"/api/\1", timing["name"].split(server.url)[1])
                calls[endpoint].append((timing["sent"], timing["whole"]))
        browser.close()
    print("\n| view | count | p50 s | max s |\n|---|---|---|---|")
    for kind, took in views.items():
        print(f"| {kind} | {len(took)} | {statistics.median(took):.2f} | {max(took):.2f} |")
    print("\n| API call | calls | request to response p50 / p99 ms | whole p50 / p99 ms |")
    print("|---|---|---|---|")
    for endpoint, found in sorted(calls.items()):
        sent, whole = [s for s, _ in found], [w for _, w in found]
        print(
            f"| {endpoint} | {len(found)} | {serve.percentile(sent, 0.5):.0f} / "
            f"{serve.percentile(sent, 0.99):.0f} | {serve.percentile(whole, 0.5):.0f} / "
            f"{serve.percentile(whole, 0.99):.0f} |"
        )


if __name__ == "__main__":
    main()
