"""`timeline`: a thin click layer over `timeline.engine.Timeline`.

Library errors (`TimelineError`) become one ``Error: …`` line on stderr and
exit status 1; bad arguments exit 2 with click's usage message. No command
prints a traceback for anything a user can get wrong.

Each command imports what it needs when it runs: building the command line
loads click alone, so `timeline --help` and `--version` start at once, and a
read never loads Alembic, the web stack, or the importer's YAML and ISO
tables (`tests/e2e/test_startup.py` keeps it so).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from timeline.environment import LOCK_TIMEOUT, default_url

if TYPE_CHECKING:
    import sqlalchemy as sa
    from rich.console import Console

    from timeline.engine import Timeline

F = TypeVar("F", bound=Callable[..., Any])
SEED = "ukraine-mbt-2023.yaml"


# click 8.2+ makes ParamType generic at type-check time only.
class When(click.ParamType):  # type: ignore[type-arg]
    """A date in any precision `occurred` accepts: 2023-01-20, 2023-W03, 2023-01…"""

    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from events import InvalidEvent, Occurred

        try:
            Occurred.parse(str(value))
        except InvalidEvent as err:
            self.fail(err.expected, param, ctx)
        return str(value)


class Names(click.Choice):  # type: ignore[type-arg]
    """A choice among names the vocabulary defines, loaded when first asked for, so that
    building the command line does not load the vocabulary."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._names = names
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        return tuple(self._names())

    @choices.setter
    def choices(self, _given: Sequence[str]) -> None:
        """click.Choice sets them; ours come from `names`."""


def _event_types() -> list[str]:
    from events import REGISTRY

    return sorted(REGISTRY)


def _sections() -> list[str]:
    from projections import SECTIONS

    return list(SECTIONS)


def _timeline(db: str) -> Timeline:
    """The timeline at `db`, its connections closed when the command ends: a process that
    runs several commands (a test, a script calling `main`) would otherwise hold them
    until the cycle collector frees the engine, which reads may postpone."""
    from timeline.engine import Timeline

    timeline = Timeline.open(db)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(timeline.store.engine.dispose)
    return timeline


WHEN = When()


def db_option(command: F) -> F:
    return click.option(
        "--db",
        default=default_url,
        show_default="$TIMELINE_DB or sqlite:///timeline.db",
        help="Database URL (sqlite:///FILE or postgresql://USER@HOST/DB).",
    )(command)


def format_option(*choices: str) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        return click.option(
            "--format",
            "output",
            type=click.Choice(choices),
            default="text",
            show_default=True,
            help="text for people, json for programs (see docs/json-schema.md).",
        )(command)

    return decorate


def _console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)


def _json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@click.group()
@click.version_option(package_name="diplomatic-timeline")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0, min_open=True),
    envvar=LOCK_TIMEOUT,
    help="Seconds to wait for another writer's lock before failing "
    "(default: $TIMELINE_LOCK_TIMEOUT or 60).",
)
@click.option("-v", "--verbose", count=True, help="Log more: -v what is done, -vv details.")
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
def cli(lock_timeout: float | None, verbose: int, quiet: bool) -> None:
    """Event-sourced diplomatic timeline: sourced facts in, positions and diffs out.

    Start with `timeline demo`, or `timeline init` then `timeline import FILE`.
    """
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    # Libraries (psycopg, alembic) speak only with -vv: their warnings repeat ours.
    logging.basicConfig(
        level=level if verbose >= 2 else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.getLogger("timeline").setLevel(level)
    logging.getLogger("psycopg").setLevel(level if verbose >= 2 else logging.ERROR)  # sets its own
    if lock_timeout is not None:
        os.environ[LOCK_TIMEOUT] = str(lock_timeout)  # every engine, and --workers, see it


@cli.command()
@db_option
def init(db: str) -> None:
    """Create or upgrade the database schema (the only path to it).

    Example: timeline init --db sqlite:///timeline.db
    """
    from timeline.store import migrate
    from timeline.store.database import create_engine

    engine = create_engine(db)
    try:
        migrate.upgrade(engine)
        click.echo(f"Schema at revision {migrate.current_revision(engine)} in {engine.url}")
    finally:
        engine.dispose()


@cli.command("import")
@db_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def import_(db: str, files: Sequence[Path]) -> None:
    """Validate dossier files and append them all atomically (or nothing).

    Files of any size: JSON Lines is read as a stream, a batch at a time, in one
    transaction. `-` reads standard input. Re-importing a file appends nothing.

    Example: timeline import dossier.yaml; producer | timeline import -
    """
    from timeline.interfaces.render import visible

    with _import_progress() as progress:
        report = _timeline(db).import_files(list(files), progress=progress)
    for name in report.appended:
        click.echo(
            visible(
                f"{name}: {report.appended[name]} appended, "
                f"{report.unchanged[name]} already present"
            )
        )
        for change in report.declared.get(name, ()):
            click.echo(visible(f"{name}: the header declares {change}"))
    click.echo(f"{report.files} file(s), {report.total_appended} event(s) appended")


@cli.command()
@click.option(
    "--db",
    default=None,
    help="Also resolve references to stored events in this database (nothing is written).",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Stop after this many errors.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(db: str | None, max_errors: int, files: Sequence[Path]) -> None:
    """Check dossier files without importing them: every error, one line each, with
    the nearest known code where one is close. Needs no database.

    Example: timeline validate dossier.yaml more.jsonl
    """
    from timeline.dossiers import files as dossier_files
    from timeline.errors import DossierError
    from timeline.interfaces.render import visible

    findings = dossier_files.Findings(max_errors)
    read: list[dossier_files.DossierFile] = []
    unchecked = 0
    try:
        for path in files:
            try:
                read.append(dossier_files.read_file(path, findings))
            except DossierError as err:  # the file, or its header: nothing more to read
                findings.add(err)
        stored = None
        if db is not None:
            from timeline.store import EventStore

            stored = EventStore.open(db)
        unchecked = dossier_files.resolve(read, stored, findings).unchecked
    except dossier_files.Enough:
        pass
    for error in findings.errors:
        click.echo(f"Error: {visible(str(error))}", err=True)
    if unchecked:
        click.echo(
            f"{unchecked} reference(s) or code(s) that only a database can resolve not checked "
            "(give --db to check them against a database)"
        )
    if findings.errors:
        limit = " (the first ones: see --max-errors)" if len(findings.errors) >= max_errors else ""
        click.echo(f"{len(findings.errors)} error(s) in {len(files)} file(s){limit}")
        raise click.exceptions.Exit(1)
    events = sum(len(f.envelopes) for f in read)
    click.echo(f"{len(files)} file(s), {events} event(s): valid")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of dossier files, for editors and other programs.

    Example: timeline schema > dossier.schema.json
    """
    click.echo(
        (resources.files("timeline") / "dossiers" / "dossier.schema.json").read_text("utf-8"),
        nl=False,
    )


def filter_options(command: F) -> F:
    """--dossier, --actor, --issue and --section: which items a question is about."""
    for option in reversed(
        [
            click.option("--dossier", help="Only this dossier."),
            click.option("--actor", help="Only items naming this actor (e.g. DEU)."),
            click.option("--issue", help="Only items on this issue."),
            click.option(
                "--section",
                "sections",
                multiple=True,
                type=Names(_sections),
                help="Only these sections (repeat for several).",
            ),
        ]
    ):
        command = option(command)
    return command


@cli.command()
@db_option
@click.option("--dossier", help="Only this dossier.")
@click.option("--actor", help="Only events naming this actor (e.g. DEU).")
@click.option("--type", "types", multiple=True, type=Names(_event_types), help="Only these types.")
@click.option("--from", "start", type=WHEN, help="Events whose valid time reaches this date.")
@click.option("--to", "end", type=WHEN, help="Events that may have started by this date.")
@click.option("--known-at", type=WHEN, help="As the store knew it then (transaction time).")
@click.option("--raw", is_flag=True, help="Every event as recorded, fixes included, uncorrected.")
@click.option("--retracted", is_flag=True, help="Show retracted facts too, marked as such.")
@format_option("text", "json")
def log(
    db: str,
    dossier: str | None,
    actor: str | None,
    types: tuple[str, ...],
    start: str | None,
    end: str | None,
    known_at: str | None,
    raw: bool,
    retracted: bool,
    output: str,
) -> None:
    """The chronological feed of events, with their sources, as corrections left them.

    Example: timeline log --actor DEU --from 2023-01-20 --to 2023-01-26
    """
    from timeline.interfaces import render

    _chronological(start, end, "--from", "--to")
    entries = _timeline(db).log(
        dossier=dossier,
        actor=actor,
        types=types,
        start=start,
        end=end,
        known_at=known_at,
        raw=raw,
        retracted=retracted,
    )
    if output == "json":
        _json({"schema": render.LOG_SCHEMA, "events": [render.entry_to_json(e) for e in entries]})
    else:
        _console().print(render.log_table(entries))


def _chronological(first: str | None, second: str | None, *names: str) -> None:
    """Refuse two dates given in the wrong order, as a usage error."""
    from events import Occurred

    if first and second and Occurred.parse(first).start > Occurred.parse(second).start:
        raise click.UsageError(f"{names[0]} {first} comes after {names[1]} {second}")


@cli.command()
@db_option
@click.option("--as-of", required=True, type=WHEN, help="Valid time: the end of this date.")
@click.option("--known-at", type=WHEN, help="Transaction time (default: everything recorded).")
@filter_options
@format_option("text", "json")
def state(
    db: str,
    as_of: str,
    known_at: str | None,
    dossier: str | None,
    actor: str | None,
    issue: str | None,
    sections: tuple[str, ...],
    output: str,
) -> None:
    """Every actor's position, pledges, requests… as of a date.

    Example: timeline state --as-of 2023-01-20 --actor DEU --format json
    """
    import orjson

    from timeline.interfaces import render

    found = _timeline(db).state_document(
        as_of, known_at=known_at, dossier=dossier, actor=actor, issue=issue, sections=sections
    )
    document = orjson.loads("".join(found))
    if output == "json":
        _json(document)
    else:
        render.print_all(_console(), render.state_tables(document, as_of))


@cli.command()
@db_option
@click.option("--from", "start", required=True, type=WHEN, help="From the end of this date.")
@click.option("--to", "end", required=True, type=WHEN, help="To the end of this date.")
@click.option("--known-at", type=WHEN, help="Transaction time of both sides (default: now).")
@click.option("--from-known-at", type=WHEN, help="Transaction time of the --from side.")
@click.option("--to-known-at", type=WHEN, help="Transaction time of the --to side.")
@filter_options
@format_option("text", "json", "markdown")
def diff(
    db: str,
    start: str,
    end: str,
    known_at: str | None,
    from_known_at: str | None,
    to_known_at: str | None,
    dossier: str | None,
    actor: str | None,
    issue: str | None,
    sections: tuple[str, ...],
    output: str,
) -> None:
    """What changed between two dates, and because of which events.

    With --from-known-at, the same dates as known then and now: what the
    corrections and late facts since changed.

    Example: timeline diff --from 2023-01-20 --to 2023-01-26 --format markdown
    """
    from projections import diff_to_json
    from timeline.interfaces import render

    _chronological(start, end, "--from", "--to")
    found = _timeline(db).diff(
        start,
        end,
        known_at=known_at,
        from_known_at=from_known_at,
        to_known_at=to_known_at,
        dossier=dossier,
        actor=actor,
        issue=issue,
        sections=sections,
    )
    document = diff_to_json(found)
    if output == "json":
        _json(document)
    elif output == "markdown":
        click.echo(render.diff_markdown(document, start, end), nl=False)
    else:
        _console().print(render.diff_table(document, start, end))


@cli.command()
@db_option
@click.argument("section", type=Names(_sections))
@click.argument("key", nargs=-1, required=True)
@click.option("--dossier", help="The item's dossier, when several have one with this key.")
@click.option("--known-at", type=WHEN, help="As the store knew it then (transaction time).")
@format_option("text", "json")
def history(
    db: str,
    section: str,
    key: tuple[str, ...],
    dossier: str | None,
    known_at: str | None,
    output: str,
) -> None:
    """Every version of one item, oldest first: when it changed, to what, and why.

    KEY is the item's key without its dossier: ACTOR ISSUE for a position,
    DONOR RECIPIENT ITEM for a pledge, CATEGORY for a total, REQUEST (its
    key) for a request, and so on.

    Example: timeline history positions DEU mbt-for-ukraine
    """
    from projections import history_to_json
    from timeline.engine import cutoff
    from timeline.interfaces import render

    timeline = _timeline(db)
    whole, versions = timeline.history(section, key, dossier=dossier, known_at=known_at)
    known = cutoff(known_at) if known_at else None
    document = history_to_json(section, whole, known, versions)
    if output == "json":
        _json(document)
    else:
        _console().print(render.history_table(document))


@cli.command()
@db_option
@click.option("--dossier", help="The dossier to draw (may be left out when there is one).")
@click.option("--issue", help="Only the positions on this issue.")
@click.option("--known-at", type=WHEN, help="As the store knew it then (transaction time).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The picture to write: FILE.svg, or FILE.png (needs the png extra).",
)
def chart(db: str, dossier: str | None, issue: str | None, known_at: str | None, out: Path) -> None:
    """Draw the page's stance lanes and pledged totals as a picture, without a server.

    Example: timeline chart --dossier ukraine-mbt-2023 --out tanks.svg
    """
    from timeline.interfaces import chart as drawing

    if out.suffix.lower() not in (".svg", ".png"):
        raise click.BadParameter("expected a file name ending in .svg or .png", param_hint="--out")
    timeline = _timeline(db)
    if dossier is None:
        held = [summary.dossier for summary in timeline.dossiers()]
        if len(held) != 1:
            raise click.UsageError(f"--dossier: name one of {', '.join(held) or 'none yet'}")
        dossier = held[0]
    svg = drawing.chart(timeline, dossier, issue=issue, known_at=known_at)
    picture: str | bytes = svg
    if out.suffix.lower() == ".png":
        try:
            picture = drawing.png(svg)
        except drawing.NoRasteriser as err:
            advice = "pip install 'diplomatic-timeline[png]', or write .svg"
            raise click.ClickException(f"PNG needs CairoSVG and Cairo ({advice}): {err}") from None
    try:
        with _replacing(out, binary=isinstance(picture, bytes)) as stream:
            stream.write(picture)
    except OSError as err:
        raise click.FileError(str(out), err.strerror or str(err)) from None
    click.echo(f"drew {dossier} to {out}", err=True)


def _exported_sections() -> list[str]:
    return [*_sections(), "log"]


@cli.command()
@db_option
@click.option(
    "--format",
    "form",
    required=True,
    type=click.Choice(["csv", "timelinejs", "plover"]),
    help="csv: a table per section; timelinejs: TimelineJS 3 JSON; plover: PLOVER JSON Lines.",
)
@click.option("--as-of", type=WHEN, help="Valid time: the state then, the facts up to then.")
@click.option("--known-at", type=WHEN, help="As the store knew it then (transaction time).")
@click.option("--dossier", help="Only this dossier.")
@click.option(
    "--section",
    type=Names(_exported_sections),
    help="With csv: the state section to write, or log.  [default: positions]",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (whole or not at all) instead of standard output.",
)
def export(
    db: str,
    form: str,
    as_of: str | None,
    known_at: str | None,
    dossier: str | None,
    section: str | None,
    out: Path | None,
) -> None:
    """Write the state or the log in a format other tools read (see docs/exports.md).

    Example: timeline export --format csv --section pledges --as-of 2023-01-26 --out pledges.csv
    """
    from timeline.exports.documents import export as write

    if section is not None and form != "csv":
        raise click.UsageError("--section is for --format csv; the other formats hold the log")
    timeline = _timeline(db)
    arguments: dict[str, Any] = {
        "as_of": as_of, "known_at": known_at, "dossier": dossier, "section": section or "positions"
    }  # fmt: skip
    if out is None:
        written = write(timeline, form, sys.stdout, **arguments)
    else:
        try:
            with _replacing(out) as stream:
                written = write(timeline, form, stream, **arguments)
        except OSError as err:
            raise click.FileError(str(out), err.strerror or str(err)) from None
        click.echo(f"{written.count} {written.unit} written to {out}", err=True)
    if written.left_out:
        left_out = f"{written.left_out} fact(s) have no PLOVER category and were left out"
        click.echo(left_out, err=True)


@contextlib.contextmanager
def _replacing(path: Path, binary: bool = False) -> Iterator[Any]:
    """A stream (text, or bytes if `binary`) whose content replaces `path` only once all
    of it is written."""
    text: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
    with tempfile.NamedTemporaryFile(
        "wb" if binary else "w", dir=path.parent, prefix=f".{path.name}.", delete=False, **text
    ) as stream:
        try:
            yield stream
        except BaseException:
            stream.close()
            os.unlink(stream.name)
            raise
    os.chmod(stream.name, 0o644)  # as `open` would make it, not private like a temporary
    os.replace(stream.name, path)


@cli.command()
@db_option
@click.option("--rebuild", is_flag=True, help="Empty the read models and rebuild from position 0.")
@click.option("--follow", is_flag=True, help="Keep running and apply new events as they commit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    help="Seconds between checks when following (PostgreSQL is woken by NOTIFY sooner).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="Events applied per transaction.",
)
def project(db: str, rebuild: bool, follow: bool, poll: float, batch: int) -> None:
    """Bring the versioned read models up to date with the events, then exit (or --follow).

    Example: timeline project --follow
    """
    from timeline.readmodels.projector import Projector
    from timeline.store import EventStore

    projector = Projector(EventStore.open(db), page_size=batch)
    with _progress() as progress:
        if rebuild:
            projector.rebuild(progress)
        if follow:
            projector.follow(poll=poll, progress=progress)
        else:
            projector.catch_up(progress)
    click.echo(f"Read models at position {projector.position}")


@contextlib.contextmanager
def _import_progress() -> Iterator[Callable[[str, int], None] | None]:
    """Events read so far, on a terminal; nothing when output is piped or redirected."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}: {task.completed:,} events"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("importing", total=None)

        def update(path: str, read: int) -> None:
            bar.update(task, description=f"importing {path}", completed=read)

        yield update


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal; nothing when output is piped or redirected."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("projecting", total=None)

        def update(position: int, head: int) -> None:
            bar.update(task, completed=position, total=head)

        yield update


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--write-token",
    envvar="TIMELINE_WRITE_TOKEN",
    help="Bearer token that POST /api/import needs (default: $TIMELINE_WRITE_TOKEN; "
    "without one the server is read-only).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="A browser origin allowed to call the API (repeat for several; default: none).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=None,
    show_default="16 MiB",
    help="The largest request body taken, in bytes.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes answering requests: one per core answers more at once.",
)
def serve(
    db: str,
    host: str,
    port: int,
    write_token: str | None,
    cors_origins: tuple[str, ...],
    max_body: int | None,
    workers: int,
) -> None:
    """The HTTP API, its OpenAPI document (/docs) and the live feed (/api/stream).

    Example: timeline serve --port 8000, then curl localhost:8000/api/state?as_of=2023-01-20
    """
    import attrs
    import uvicorn

    from timeline.interfaces.server import Settings, app
    from timeline.store import migrate
    from timeline.store.database import create_engine

    settings = Settings(url=db, write_token=write_token, cors_origins=cors_origins)
    if max_body is not None:
        settings = attrs.evolve(settings, max_body=max_body)
    if workers == 1:
        uvicorn.run(app.create_app(settings), host=host, port=port, log_level="info")
        return
    engine = create_engine(db)  # a database without the schema is refused here, once
    try:
        migrate.require_current(engine)
    finally:
        engine.dispose()
    app.to_environment(settings)
    where = f"{app.__name__}:{app.from_environment.__name__}"
    uvicorn.run(where, factory=True, workers=workers, host=host, port=port, log_level="info")


@cli.command()
@click.option(
    "--db",
    default=None,
    help="Database URL to load the seed into (default: a fresh temporary SQLite file).",
)
def demo(db: str | None) -> None:
    """Load the bundled dossier into a fresh embedded database and walk through it.

    Example: timeline demo
    """
    from projections import diff_to_json
    from timeline.engine import Timeline
    from timeline.interfaces import render
    from timeline.store import EventStore, migrate
    from timeline.store.database import create_engine

    with tempfile.TemporaryDirectory(prefix="timeline-demo-") as folder:
        url = db or f"sqlite:///{Path(folder) / 'demo.db'}"
        engine = create_engine(url)
        migrate.upgrade(engine)
        timeline = Timeline(EventStore(engine))
        console = _console()
        with resources.as_file(resources.files("timeline") / "seed" / SEED) as seed:
            report = timeline.import_files([seed])
        console.print(
            f"[bold]Loaded the bundled dossier[/bold] ukraine-mbt-2023: "
            f"{report.total_appended} events appended to {url}\n"
        )
        console.print("[bold]1. Where everyone stood on Friday 20 January 2023[/bold]")
        _show_state(console, timeline, "2023-01-20")
        console.print("\n[bold]2. What changed by Thursday 26 January, and why[/bold]")
        changes = diff_to_json(timeline.diff("2023-01-20", "2023-01-26"))
        console.print(render.diff_table(changes, "2023-01-20", "2023-01-26"))
        console.print("\n[bold]3. Where everyone stood on 26 January[/bold]")
        _show_state(console, timeline, "2023-01-26")
        engine.dispose()
    console.print(
        "\nTry it on your own database:\n"
        "  timeline init && timeline import DOSSIER.yaml\n"
        "  timeline state --as-of 2023-01-20 --format json\n"
        "  timeline diff --from 2023-01-20 --to 2023-01-26 --format markdown"
    )


def _show_state(console: Console, timeline: Timeline, as_of: str) -> None:
    from projections import state_to_json
    from timeline.interfaces import render

    render.print_all(console, render.state_tables(state_to_json(timeline.state(as_of)), as_of))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status instead of raising."""
    try:
        status = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="timeline",
            standalone_mode=False,
        )
        if isinstance(status, int):  # what a command's `Exit` said, click hands back
            return status
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except Exception as err:
        said = _failure(err)
        if said is None:
            raise
        click.echo(f"Error: {said}", err=True)
        return 1
    return 0


def _failure(err: Exception) -> str | None:
    """One line for an error a user can get wrong or a database can give; None for a bug.

    The classes are imported here: a command that raised them has loaded them.
    """
    import sqlalchemy as sa

    from events import TimelineError
    from timeline.interfaces.render import visible

    if isinstance(err, TimelineError):
        return visible(str(err))
    if isinstance(err, sa.exc.DBAPIError):
        return visible(_database_failure(err))
    return None


def _database_failure(err: sa.exc.DBAPIError) -> str:
    """What failed in the database, and what to do, in one line. Every write is one
    transaction, so whatever the command was writing is not written."""
    from timeline.store import faults

    said = faults.reason(err)
    if "lock" in said.lower():
        advice = "another process holds the lock; try again, or wait longer with --lock-timeout"
    elif faults.lost(err):
        advice = "the connection to the database failed; try again"
    else:
        advice = "the database refused a statement"
    return f"{said} ({advice}; what this command was writing is not written)"
