"""What `timeline import` and `timeline validate` cost on a large dossier file.

Writes one synthetic dossier (`tests.synthetic`, one dossier, corrections and
retractions included) as JSON Lines and as YAML, then runs, each in a fresh
process on a fresh database: `timeline validate FILE` and `timeline import
FILE`, printing events/s, seconds and peak memory (RSS) of each; and, as the
yardstick, the store's own batch append (`EventStore.append_batches`, 5,000
events a batch, only the appends timed) of the same events, with the ratio.
Figures are printed, never asserted.

The files are written by a process of their own, event by event, and this one
loads nothing heavy: Linux counts a child's peak memory from the parent's at
the fork, so a large parent would hide the children's own figures.

    .venv/bin/python bench/import_file.py --events 200000
    .venv/bin/python bench/import_file.py --events 2000000 --forms jsonl
    .venv/bin/python bench/import_file.py --events 200000 --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

TIMELINE = [str(Path(sys.executable).parent / "timeline")]


def _write(folder: Path, size: int, forms: list[str]) -> None:
    """One synthetic dossier as `dossier.jsonl` and `dossier.yaml` (those of `forms`), an
    event at a time."""
    import yaml

    sys.path.insert(0, str(Path(__file__).parents[1]))  # the synthetic histories are test code
    from events import DossierDeclared, Envelope
    from events.codec import event_to_dict, source_to_dict
    from tests import synthetic

    def record(envelope: Envelope) -> dict[str, Any]:
        fields = {
            "key": envelope.key,
            "type": envelope.type,
            "occurred": str(envelope.occurred),
            **event_to_dict(envelope.event),
            "sources": [source_to_dict(s) for s in envelope.sources],
        }
        return dict(json.loads(json.dumps(fields)))  # plain values: enums as text

    envelopes = synthetic.history(size, dossiers=1)
    declared = next(envelopes)
    assert isinstance(declared.event, DossierDeclared)
    event = declared.event
    header = {
        "dossier": declared.dossier,
        "title": event.title,
        "actors": dict(event.actors),
        "items": {code: {"name": name, "category": kind} for code, name, kind in event.items},
        "issues": dict(event.issues),
    }
    with contextlib.ExitStack() as files:
        out = {form: files.enter_context((folder / f"dossier.{form}").open("w")) for form in forms}
        if "jsonl" in out:
            out["jsonl"].write(json.dumps(header) + "\n")
        if "yaml" in out:
            out["yaml"].write(yaml.safe_dump(header, sort_keys=False) + "events:\n")
        for envelope in envelopes:
            fields = record(envelope)
            if "jsonl" in out:
                out["jsonl"].write(json.dumps(fields) + "\n")
            if "yaml" in out:
                out["yaml"].write(yaml.safe_dump([fields], sort_keys=False, width=2**16))


def _run(command: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `command`, run in a process of its own."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{command[1]} failed with status {child.returncode}")
    return seconds, usage.ru_maxrss / 1024


def _append(url: str, path: Path) -> None:
    """The yardstick: the file's events appended by `append_batches`, only that timed."""
    from timeline.dossiers import files
    from timeline.store import EventStore

    store, seconds, count = EventStore.open(url), 0.0, 0
    with files.opened(path) as found:
        batch: list[Any] = []
        for envelope, _ in itertools.chain(found.envelopes(), [(None, None)]):
            if envelope is not None:
                batch.append(envelope)
            if len(batch) == 5_000 or (envelope is None and batch):
                start = time.perf_counter()
                count += len(store.append_batches({found.dossier: batch}))
                seconds += time.perf_counter() - start
                batch = []
    print(json.dumps({"rate": count / seconds}))


def _database(folder: Path, pg: str | None) -> tuple[str, Any, str | None]:
    if pg is None:
        return f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}", None, None
    import sqlalchemy as sa

    schema = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in pg else "?"
    return f"{pg}{separator}options={quote(f'-csearch_path={schema}')}", admin, schema


def _drop(admin: Any, schema: str | None) -> None:
    if admin is None:
        return
    import sqlalchemy as sa

    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--pg", help="PostgreSQL URL (default: SQLite files)")
    parser.add_argument("--forms", default="jsonl,yaml", help="file formats (jsonl,yaml)")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the writing process
    parser.add_argument("--append", nargs=2, help=argparse.SUPPRESS)  # the yardstick's process
    args = parser.parse_args()
    if args.write is not None:
        _write(args.write, args.events, args.forms.split(","))
        return
    if args.append is not None:
        _append(args.append[0], Path(args.append[1]))
        return
    with tempfile.TemporaryDirectory(prefix="timeline-import-") as name:
        folder = Path(name)
        writer = [sys.executable, __file__, "--events", str(args.events), "--forms", args.forms]
        writer += ["--write", name]
        subprocess.run(writer, check=True)
        print(f"{args.events:,} events, backend {'PostgreSQL' if args.pg else 'SQLite'}")
        for form in args.forms.split(","):
            path = folder / f"dossier.{form}"
            size = path.stat().st_size / 2**20
            seconds, peak = _run([*TIMELINE, "validate", str(path)])
            print(
                f"validate {form:5} {size:6.1f} MB: {seconds:6.1f} s, "
                f"{args.events / seconds:8,.0f} events/s, peak {peak:,.0f} MB"
            )
            url, admin, schema = _database(folder, args.pg)
            try:
                subprocess.run(
                    [*TIMELINE, "init", "--db", url], check=True, stdout=subprocess.DEVNULL
                )
                seconds, peak = _run([*TIMELINE, "import", "--db", url, str(path)])
                rate = args.events / seconds
                print(
                    f"import   {form:5} {size:6.1f} MB: {seconds:6.1f} s, "
                    f"{rate:8,.0f} events/s, peak {peak:,.0f} MB"
                )
            finally:
                _drop(admin, schema)
            url, admin, schema = _database(folder, args.pg)
            try:
                subprocess.run(
                    [*TIMELINE, "init", "--db", url], check=True, stdout=subprocess.DEVNULL
                )
                appender = [sys.executable, __file__, "--append", url, str(path)]
                done = subprocess.run(appender, check=True, capture_output=True, text=True)
                store = json.loads(done.stdout)["rate"]
                print(
                    f"store append_batches of the same events: {store:8,.0f} events/s; "
                    f"import / store = {rate / store:.2f}"
                )
            finally:
                _drop(admin, schema)


if __name__ == "__main__":
    main()
