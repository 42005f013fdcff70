"""What `timeline import` and `timeline validate` cost on a large dossier file.

Writes one synthetic dossier (`tests.synthetic`, one dossier, corrections and
retractions included) as JSON Lines and as YAML, then runs, each in a fresh
process on a fresh database: `timeline validate FILE` and `timeline import
FILE`, printing events/s, seconds and peak memory (RSS) of each. Figures are
printed, never asserted.

    .venv/bin/python bench/import_file.py --events 200000
    .venv/bin/python bench/import_file.py --events 200000 --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
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

import sqlalchemy as sa
import yaml

sys.path.insert(0, str(Path(__file__).parents[1]))  # the synthetic histories are test code
from events import DossierDeclared, Envelope
from events.codec import event_to_dict, source_to_dict
from tests import synthetic

TIMELINE = [str(Path(sys.executable).parent / "timeline")]


def _records(size: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the events of one synthetic dossier, as a file holds them."""
    envelopes = list(synthetic.history(size, dossiers=1))
    declared = envelopes[0]
    assert isinstance(declared.event, DossierDeclared)
    event = declared.event
    header = {
        "dossier": declared.dossier,
        "title": event.title,
        "actors": dict(event.actors),
        "items": {code: {"name": name, "category": kind} for code, name, kind in event.items},
        "issues": dict(event.issues),
    }
    records = json.loads(json.dumps([_record(e) for e in envelopes[1:]]))  # plain values
    return header, records


def _record(envelope: Envelope) -> dict[str, Any]:
    return {
        "key": envelope.key,
        "type": envelope.type,
        "occurred": str(envelope.occurred),
        **event_to_dict(envelope.event),
        "sources": [source_to_dict(s) for s in envelope.sources],
    }


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


def _database(folder: Path, pg: str | None) -> tuple[str, sa.Engine | None, str | None]:
    if pg is None:
        return f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}", None, None
    schema = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in pg else "?"
    return f"{pg}{separator}options={quote(f'-csearch_path={schema}')}", admin, schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--pg", help="PostgreSQL URL (default: SQLite files)")
    args = parser.parse_args()
    header, records = _records(args.events)
    with tempfile.TemporaryDirectory(prefix="timeline-import-") as name:
        folder = Path(name)
        files = {
            "jsonl": folder / "dossier.jsonl",
            "yaml": folder / "dossier.yaml",
        }
        with files["jsonl"].open("w", encoding="utf-8") as out:
            for line in (header, *records):
                out.write(json.dumps(line) + "\n")
        text = yaml.safe_dump({**header, "events": records}, allow_unicode=True, sort_keys=False)
        files["yaml"].write_text(text, encoding="utf-8")
        print(f"{args.events:,} events, backend {'PostgreSQL' if args.pg else 'SQLite'}")
        for form, path in files.items():
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
                print(
                    f"import   {form:5} {size:6.1f} MB: {seconds:6.1f} s, "
                    f"{args.events / seconds:8,.0f} events/s, peak {peak:,.0f} MB"
                )
            finally:
                if admin is not None:
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()


if __name__ == "__main__":
    main()
