"""The dossier parsers against hostile and random input: one `DossierError`, never
another exception, and quickly."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.dossiers.files import (
    MAX_DEPTH,
    MAX_TEXT,
    _check_value,
    _loads,
    _plainly_within_limits,
    read_text,
)
from timeline.errors import DossierError

HEADER = "dossier: x\ntitle: t\n"
HOSTILE = {
    "nested aliases": (
        "yaml",
        HEADER
        + "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        + "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nevents: [*c]\n",
        "expected no aliases",
    ),
    "deep YAML": ("yaml", HEADER + "events: " + "[" * 10_000 + "]" * 10_000, "nesting"),
    "deep YAML within libyaml's limit": (
        "yaml",
        HEADER + "events: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        f"at most {MAX_DEPTH} levels",
    ),
    "deep JSON": (
        "jsonl",
        '{"dossier": "x", "title": "t"}\n' + "[" * 10_000 + "]" * 10_000,
        "nesting",
    ),
    "lone surrogate in JSON": ("jsonl", '{"dossier": "x", "title": "t\\ud800"}\n', "Unicode"),
    "lone surrogate in YAML": (
        "yaml",
        HEADER.replace("t\n", '"t\\ud800"\n') + "events: []\n",
        "Unicode",
    ),
    "huge integer": (
        "jsonl",
        '{"dossier": "x", "title": "t", "n": ' + "9" * 5000 + "}\n",
        "digits",
    ),
    "python tag": (
        "yaml",
        "dossier: x\ntitle: !!python/object/apply:os.system [ls]\nevents: []\n",
        "tag",
    ),
    "50 MB line": (
        "yaml",
        HEADER.replace("t\n", "x" * 50_000_000 + "\n") + "events: []\n",
        "at most",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_are_refused_in_one_line(case: str) -> None:
    form, text, expected = HOSTILE[case]
    start = time.perf_counter()
    with pytest.raises(DossierError) as refused:
        read_text(f"{case}.{form}", text, form)
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)
    # Not a timing assertion on the engine's speed: a parser that expands aliases or
    # walks 50 MB character by character in Python takes minutes, not seconds.
    assert time.perf_counter() - start < 30


@settings(max_examples=300, deadline=None)
@given(text=st.text(), form=st.sampled_from(["yaml", "jsonl"]))
def test_any_text_is_read_or_refused_as_a_dossier_error(text: str, form: str) -> None:
    with contextlib.suppress(DossierError):
        read_text("random", text, form)


@settings(max_examples=300, deadline=None)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=30,
    ),
    form=st.sampled_from(["yaml", "jsonl"]),
)
def test_any_structure_is_read_or_refused_as_a_dossier_error(body: object, form: str) -> None:
    """Well-formed files of any shape: as a header's field, an event, or the events."""
    if form == "jsonl":
        text = '{"dossier": "x", "title": "t"}\n' + json.dumps(body) + "\n"
    else:
        text = HEADER + "events: " + json.dumps(body) + "\n"  # JSON is YAML
    with contextlib.suppress(DossierError):
        read_text("random", text, form)


_JSON_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\ud800", "\udfff", "\ud83d\ude00", "\\u"]),
    st.integers(MAX_TEXT - 2, MAX_TEXT + 2).map(lambda n: "a" * n),
)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _JSON_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(_JSON_TEXT, children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300)
@given(_JSON_VALUES, st.integers(0, MAX_DEPTH + 2), st.booleans())
def test_a_line_judged_by_its_text_breaks_no_limit(value: object, depth: int, ascii: bool) -> None:
    """The shortcut that spares a plain JSON line the walk over its values never lets
    through what the walk refuses (deep nesting, long text, lone surrogates)."""
    for _ in range(depth):
        value = [value]
    line = json.dumps({"key": value}, ensure_ascii=ascii)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return  # not a line a UTF-8 file can hold
    if _plainly_within_limits(line):
        _check_value("f.jsonl", 1, json.loads(line))


def _standard(line: str) -> object:
    """The oracle: the standard library's reading, or its refusal."""
    try:
        return ("read", json.loads(line))
    except (ValueError, RecursionError) as err:
        return ("refused", type(err).__name__)


@settings(max_examples=300)
@given(
    st.one_of(
        _JSON_VALUES.map(json.dumps),
        _JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False)),
        st.sampled_from(
            ['{"a": 1, "a": 2}', "NaN", "[1e400]", "-0", "1.5e-7", str(2**70), '"\\ud800"']
        ),
        st.text(max_size=40),
    )
)
def test_json_lines_are_read_as_the_standard_library_reads_them(line: str) -> None:
    try:
        found: object = ("read", _loads(line))
    except (ValueError, RecursionError) as err:
        found = ("refused", type(err).__name__)
    assert found == _standard(line)
