"""The soak run: importers, a follower and readers on PostgreSQL while connections die.

For `--minutes` (default 10), in separate processes: `--importers` (4)
each import a file of 20 facts every `--pause` seconds (0.5), a follower keeps the read models up
to date (`Projector.follow`), and `--readers` (2) ask random as-of
questions; every few seconds one of their database sessions is terminated
(`pg_terminate_backend`). At the end the follower gets a last chance to
catch up, and the read models it kept are compared with a rebuild.

It prints events appended (by the importers' reports), events stored, the
position the follower reached, read-model mismatches (rows a rebuild
disagrees with: must be 0), errors by kind in each role, and peak memory.
Figures are printed, never asserted.

    .venv/bin/python bench/soak.py --pg postgresql://postgres@127.0.0.1:5432/test

The run works in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import random
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parents[1]))  # the table comparison is test-only code
from tests.tables import visible_rows
from timeline.dossiers import files as dossier_files
from timeline.engine import Timeline
from timeline.readmodels.projector import Projector, checkpoint
from timeline.store import EventStore, migrate
from timeline.store.database import create_engine

APP = "timeline-soak"
ACTORS = ["DEU", "USA", "GBR", "POL", "FRA", "UKR"]


def _url(base: str, schema: str, role: str) -> str:
    separator = "&" if "?" in base else "?"
    options = quote(f"-csearch_path={schema}")
    return f"{base}{separator}options={options}&application_name={APP}-{role}"


def _kind(err: BaseException) -> str:
    return type(getattr(err, "orig", None) or err).__name__


def _dossier(name: str, start: int, count: int, rng: random.Random) -> str:
    """A small dossier file: positions of random actors on an issue of its own.

    Each file declares a new issue, as a curator's next batch of facts would
    be about a new question: an item (actor, issue) gets a handful of
    versions, as in real dossiers. All files on one issue would give each of
    six items tens of thousands of versions, and a late fact on such an item
    refolds every version after it: a load no dossier has, which would
    measure that instead of the faults.
    """
    issue = f"issue-{start}"
    lines = [
        f"dossier: {name}",
        "title: Soak",
        "issues:",
        f"  {issue}: Issue {start}",
        "sources:",
        "  s: {publisher: Soak, published: 2023-01-01}",
        "events:",
    ]
    for number in range(start, start + count):
        day = 1 + rng.randrange(28)
        stance = rng.choice(["opposed", "reluctant", "supportive", "committed"])
        lines += [
            f"  - key: e{number}",
            "    type: position.stated",
            f"    occurred: 2023-02-{day:02d}",
            f"    actor: {rng.choice(ACTORS)}",
            f"    issue: {issue}",
            f"    stance: {stance}",
            "    sources:",
            "      - {cite: s, quote: 'q'}",
        ]
    return "\n".join(lines) + "\n"


def importer(url: str, number: int, until: float, pause: float, results: Any) -> None:
    rng = random.Random(number)
    timeline = Timeline(EventStore(create_engine(url)), catch_up=False)
    appended, next_key, errors = 0, 0, collections.Counter[str]()
    while time.time() < until:
        text = _dossier(f"soak-{number}", next_key, 20, rng)
        try:
            report = timeline.import_dossiers([dossier_files.read_text("soak", text, "yaml")])
        except Exception as err:  # counted by kind: the point of the run
            errors[_kind(err)] += 1
            time.sleep(0.1)
            continue
        appended += report.total_appended
        next_key += 20
        time.sleep(pause)
    results.put(("importer", appended, dict(errors), _peak()))


def follower(url: str, until: float, results: Any) -> None:
    projector = Projector(EventStore(create_engine(url)))
    errors = collections.Counter[str]()
    while time.time() < until:
        try:
            projector.follow(poll=0.2, stop=lambda: time.time() >= until)
        except Exception as err:  # follow retries lost connections itself
            errors[_kind(err)] += 1
    results.put(("follower", projector.position, dict(errors), _peak()))


def reader(url: str, number: int, until: float, results: Any) -> None:
    rng = random.Random(100 + number)
    timeline = Timeline(EventStore(create_engine(url)), catch_up=False)
    answered, errors = 0, collections.Counter[str]()
    while time.time() < until:
        try:
            timeline.state(f"2023-02-{1 + rng.randrange(28):02d}", actor=rng.choice(ACTORS))
            answered += 1
        except Exception as err:  # counted by kind
            errors[_kind(err)] += 1
            time.sleep(0.1)
    results.put(("reader", answered, dict(errors), _peak()))


def _peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--importers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between imports")
    args = parser.parse_args()

    schema = f"soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        _run(args, schema, admin)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _run(args: argparse.Namespace, schema: str, admin: sa.Engine) -> None:
    url = _url(args.pg, schema, "setup")
    setup = create_engine(url)
    migrate.upgrade(setup)
    setup.dispose()  # only the roles' sessions are there to be terminated
    until = time.time() + args.minutes * 60
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    roles = [
        *(
            context.Process(
                target=importer,
                args=(_url(args.pg, schema, "importer"), n, until, args.pause, results),
            )
            for n in range(args.importers)
        ),
        context.Process(target=follower, args=(_url(args.pg, schema, "follower"), until, results)),
        *(
            context.Process(
                target=reader, args=(_url(args.pg, schema, "reader"), n, until, results)
            )
            for n in range(args.readers)
        ),
    ]
    for process in roles:
        process.start()
    rng, terminated = random.Random(0), collections.Counter[str]()
    while time.time() < until:
        time.sleep(rng.uniform(2, 5))
        with admin.connect() as conn:
            sessions = conn.execute(
                sa.text(
                    "SELECT pid, application_name FROM pg_stat_activity "
                    "WHERE application_name LIKE :app AND pid <> pg_backend_pid()"
                ),
                {"app": f"{APP}-%"},
            ).all()
            if sessions:
                pid, name = rng.choice(sessions)
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                terminated[name.removeprefix(f"{APP}-")] += 1
    reports = [results.get(timeout=300) for _ in roles]
    for process in roles:
        process.join(timeout=60)

    store = EventStore(create_engine(url))
    with store.engine.connect() as conn:
        followed_to = checkpoint(conn)
    stored = store.head()
    Projector(store).catch_up()  # what the follower had not reached when it stopped
    kept = visible_rows(store.engine)
    Projector(store).rebuild()
    rebuilt = visible_rows(store.engine)
    mismatches = sum(
        len(set(kept.get(t, [])) ^ set(rebuilt.get(t, []))) for t in set(kept) | set(rebuilt)
    )
    appended = sum(r[1] for r in reports if r[0] == "importer")
    answered = sum(r[1] for r in reports if r[0] == "reader")
    print(f"{args.minutes:g} minutes, {args.importers} importers, {args.readers} readers")
    print(f"sessions terminated: {dict(terminated)}")
    print(f"events appended (importers' reports): {appended:,}")
    print(f"events stored (declarations included): {stored:,}")
    print(f"position the follower reached: {followed_to:,} of {stored:,}")
    print(f"read-model mismatches against a rebuild: {mismatches}")
    print(f"as-of questions answered: {answered:,}")
    for role in ("importer", "follower", "reader"):
        errors: collections.Counter[str] = collections.Counter()
        for found in (r for r in reports if r[0] == role):
            errors.update(found[2])
        peak = max(r[3] for r in reports if r[0] == role)
        print(f"{role}: errors by kind {dict(errors) or 'none'}, peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
