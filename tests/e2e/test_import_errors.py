"""Bad dossier files: one clear line on stderr, a non-zero exit, and nothing written."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timeline.interfaces.cli import main
from timeline.store import EventStore

HEADER = """\
dossier: test-dossier
title: A test dossier
actors:
  NATO: North Atlantic Treaty Organization
items:
  leopard-2: {name: Leopard 2, category: main-battle-tank}
issues:
  tanks: Tanks for Ukraine
sources:
  cnn: {publisher: CNN, published: 2023-01-25}
events:
"""

GOOD_EVENTS = """\
  - key: pol-request
    type: request.filed
    occurred: 2023-01-24
    requester: POL
    addressee: DEU
    issue: tanks
    ask: re-export
    item: leopard-2
    sources:
      - {cite: cnn, quote: "Poland on Tuesday formally asked"}
  - key: deu-approves
    type: request.decided
    occurred: 2023-01-25
    request: pol-request
    decision: approved
    by: DEU
    sources:
      - {cite: cnn, quote: "Germany will also allow other countries to export"}
"""


def _event(body: str) -> str:
    return f"""\
  - key: bad-one
{body}    sources:
      - {{cite: cnn, quote: "a quote"}}
"""


BAD = {
    "issue-name-not-text": (
        HEADER.replace("tanks: Tanks for Ukraine", "tanks: {name: Tanks for Ukraine}")
        + GOOD_EVENTS,
        "field 'issues.tanks': expected a name",
    ),
    "item-name-a-list": (
        HEADER.replace("{name: Leopard 2,", "{name: [Leopard, 2],") + GOOD_EVENTS,
        "field 'items.leopard-2.name': expected a name",
    ),
    "malformed-yaml": (HEADER + GOOD_EVENTS + "  - key: [unclosed\n", "malformed YAML"),
    "category-too-long": (
        HEADER.replace("category: main-battle-tank", "category: " + "c" * 201) + GOOD_EVENTS,
        "expected a category of 1 to 200 characters",
    ),
    "comma-in-an-item-name": (
        HEADER.replace("{name: Leopard 2,", "{name: Leopard 2, the German tank,") + GOOD_EVENTS,
        "quote a name that has one",
    ),
    "quantity-too-large": (
        HEADER
        + _event(
            "    type: pledge.announced\n    occurred: 2023-01-25\n    donor: DEU\n"
            "    recipient: UKR\n    issue: tanks\n    item: leopard-2\n"
            "    quantity: 1000000001\n"
        ),
        "expected a quantity up to 1,000,000,000",
    ),
    "quantity-of-many-digits": (
        HEADER
        + _event(
            "    type: pledge.announced\n    occurred: 2023-01-25\n    donor: DEU\n"
            "    recipient: UKR\n    issue: tanks\n    item: leopard-2\n"
            f"    quantity: '{'9' * 5000}'\n"
        ),
        "expected a quantity up to 1,000,000,000",
    ),
    "unknown-type": (
        HEADER + _event("    type: tank.sent\n    occurred: 2023-01-25\n"),
        "expected one of",
    ),
    "unknown-actor": (
        HEADER
        + _event(
            "    type: statement.issued\n    occurred: 2023-01-25\n    actor: XXX\n"
            "    tone: supportive\n    summary: hello\n"
        ),
        "field 'actor'",
    ),
    "missing-field": (
        HEADER
        + _event(
            "    type: statement.issued\n    occurred: 2023-01-25\n    actor: DEU\n"
            "    tone: supportive\n"
        ),
        "field 'summary'",
    ),
    "bad-date": (
        HEADER
        + _event(
            "    type: statement.issued\n    occurred: 2023-02-30\n    actor: DEU\n"
            "    tone: supportive\n    summary: hello\n"
        ),
        "field 'occurred'",
    ),
    "nul-in-text": (
        HEADER
        + _event(
            "    type: statement.issued\n    occurred: 2023-01-25\n    actor: DEU\n"
            '    tone: supportive\n    summary: "a \\0 byte"\n'
        ),
        "field 'summary': expected text without NUL characters",
    ),
    "nul-in-key": (
        HEADER
        + _event(
            "    type: statement.issued\n    occurred: 2023-01-25\n    actor: DEU\n"
            "    tone: supportive\n    summary: hello\n"
        ).replace("key: bad-one", 'key: "bad\\0one"'),
        "field 'key': expected a non-empty `key` without NUL characters",
    ),
    "duplicate-key": (HEADER + GOOD_EVENTS + GOOD_EVENTS, "duplicate key"),
    "dangling-reference": (
        HEADER
        + _event(
            "    type: request.decided\n    occurred: 2023-01-25\n    request: nowhere\n"
            "    decision: approved\n    by: DEU\n"
        ),
        "field 'request'",
    ),
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["init", "--db", url]) == 0
    return url


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_gives_one_line_and_writes_nothing(
    case: str, db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each kind of bad file is refused with one located line and an unchanged store."""
    text, expected = BAD[case]
    path = _write(tmp_path, f"{case}.yaml", text)
    capsys.readouterr()
    assert main(["import", "--db", db, str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"Error: {path}:"), err
    assert expected in err
    assert "Traceback" not in err
    assert EventStore.open(db).head() == 0


def test_good_file_then_bad_file_appends_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A good file imported together with a bad one is not appended either."""
    good = _write(tmp_path, "good.yaml", HEADER + GOOD_EVENTS)
    bad = _write(tmp_path, "bad.yaml", BAD["unknown-actor"][0])
    assert main(["import", "--db", db, str(good), str(bad)]) == 1
    assert "bad.yaml" in capsys.readouterr().err
    assert EventStore.open(db).head() == 0


def test_reimport_is_idempotent(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Importing the same file twice appends nothing the second time."""
    good = _write(tmp_path, "good.yaml", HEADER + GOOD_EVENTS)
    assert main(["import", "--db", db, str(good)]) == 0
    first = EventStore.open(db).head()
    assert main(["import", "--db", db, str(good)]) == 0
    assert EventStore.open(db).head() == first == 3  # the declaration and two events
    assert "0 event(s) appended" in capsys.readouterr().out


def test_errors_name_the_line_of_the_event(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error points at the line of the offending event, not just the file."""
    text = BAD["unknown-actor"][0]
    path = _write(tmp_path, "line.yaml", text)
    main(["import", "--db", db, str(path)])
    line = text.splitlines().index("    actor: XXX") + 1
    assert f"{path}:{line}, event 'bad-one', field 'actor'" in capsys.readouterr().err


def test_jsonl_errors_name_the_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In JSON Lines, the error names the line of the bad event."""
    header = '{"dossier": "d", "title": "t", "actors": {}, "items": {}, "issues": {"x": "X"}}'
    good = (
        '{"key": "a", "type": "statement.issued", "occurred": "2023-01-25", "actor": "DEU",'
        ' "tone": "neutral", "summary": "s", "sources": [{"publisher": "P",'
        ' "published": "2023-01-25", "quote": "q"}]}'
    )
    bad = good.replace('"key": "a"', '"key": "b"').replace('"neutral"', '"loud"')
    path = _write(tmp_path, "d.jsonl", "\n".join([header, good, bad]) + "\n")
    assert main(["import", "--db", db, str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3, event 'b', field 'tone'" in err
    assert EventStore.open(db).head() == 0


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_corruption_is_all_or_nothing(
    data: st.DataObject, db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever bytes a file is cut or spliced at, import either succeeds or leaves nothing."""
    text = HEADER + GOOD_EVENTS
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(alphabet=":-[]{}'\"\n xA1", max_size=8))
    path = _write(tmp_path, "fuzz.yaml", text[:cut] + junk + text[cut:])
    store = EventStore.open(db)
    before = store.head()
    status = main(["import", "--db", db, str(path)])
    err = capsys.readouterr().err
    if status == 0:
        assert store.head() >= before
    else:
        assert status == 1
        assert err.startswith("Error: "), err
        assert err.count("\n") == 1, err
        assert store.head() == before


BOMS = {
    "utf-8": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE,
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from([b"", *BOMS.values()]),
    body=st.binary(max_size=200) | st.sampled_from([(HEADER + GOOD_EVENTS).encode()]),
    suffix=st.binary(max_size=20),
    form=st.sampled_from(["yaml", "jsonl"]),
)
def test_any_bytes_are_imported_or_refused_in_one_line(
    prefix: bytes,
    body: bytes,
    suffix: bytes,
    form: str,
    db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Random bytes, a byte-order mark in any encoding, a good file with junk at its end:
    one line and an unchanged store, or an import."""
    path = tmp_path / f"bytes.{form}"
    path.write_bytes(prefix + body + suffix)
    store = EventStore.open(db)
    before = store.head()
    capsys.readouterr()
    status = main(["import", "--db", db, str(path)])
    err = capsys.readouterr().err
    if status == 0:
        assert store.head() >= before
    else:
        assert (status, err.count("\n")) == (1, 1), err
        assert err.startswith(f"Error: {path}"), err
        assert store.head() == before


@pytest.mark.parametrize("encoding", sorted(BOMS))
def test_a_byte_order_mark_is_read_or_named(
    encoding: str, db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """UTF-8 with a BOM (as some editors save it) imports; other encodings are named."""
    path = tmp_path / "bom.yaml"
    path.write_bytes(BOMS[encoding] + (HEADER + GOOD_EVENTS).encode(encoding))
    status = main(["import", "--db", db, str(path)])
    err = capsys.readouterr().err
    if encoding == "utf-8":
        assert status == 0, err
        assert EventStore.open(db).head() == 3
    else:
        assert status == 1
        assert "expected UTF-8 text" in err, err
        assert EventStore.open(db).head() == 0
