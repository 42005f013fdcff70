"""The dossier parsers against hostile and random input: one `DossierError`, never
another exception, and quickly."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.dossiers.files import MAX_DEPTH, read_text
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
