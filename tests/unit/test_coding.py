"""CAMEO and PLOVER codes follow what an event says, within each codebook."""

from __future__ import annotations

import pytest
from hypothesis import given

from events import (
    Ask,
    CoalitionFormed,
    ConsultationHeld,
    Decision,
    DeliveryReported,
    Envelope,
    Event,
    PledgeAnnounced,
    PositionStated,
    PrecedentSet,
    PressureApplied,
    RequestDecided,
    RequestFiled,
    Stance,
    StatementIssued,
    ThreatIssued,
    Tone,
)
from events.codec import envelope_to_dict
from events.coding import CROSSWALK, codes, plover
from tests.strategies import envelopes

PLOVER = {
    "AGREE", "CONSULT", "SUPPORT", "CONCEDE", "COOPERATE", "AID", "RETREAT", "REQUEST",
    "ACCUSE", "REJECT", "THREATEN", "PROTEST", "SANCTION", "MOBILIZE", "COERCE", "ASSAULT",
}  # fmt: skip
"""PLOVER's sixteen event types."""


@given(envelopes())
def test_every_code_is_in_its_codebook(envelope: Envelope) -> None:
    exported = envelope_to_dict(envelope)
    cameo, plover = exported["cameo"], exported["plover"]
    assert (cameo, plover) == codes(envelope.event)
    assert plover is None or plover in PLOVER
    if cameo is not None:
        assert cameo.isdigit()
        assert 3 <= len(cameo) <= 4
        assert 1 <= int(cameo[:2]) <= 20  # the twenty CAMEO root categories


def _decided(decision: Decision) -> RequestDecided:
    return RequestDecided(request="r", decision=decision, by="DEU")


@pytest.mark.parametrize(
    ("event", "cameo_root", "plover"),
    [
        (_decided(Decision.DENIED), "12", "REJECT"),
        (_decided(Decision.APPROVED), "08", "CONCEDE"),
        (StatementIssued(actor="DEU", tone=Tone.CRITICAL, summary="s"), "11", "ACCUSE"),
        (StatementIssued(actor="DEU", tone=Tone.SUPPORTIVE, summary="s"), "05", "SUPPORT"),
        (PressureApplied(actors=("POL",), target="DEU", issue="i"), "10", "REQUEST"),
        (
            RequestFiled(requester="UKR", addressee="DEU", issue="i", ask=Ask.SUPPLY),
            "10",
            "REQUEST",
        ),
        (PledgeAnnounced(donor="USA", recipient="UKR", issue="i", item="m1"), "03", "AGREE"),
    ],
)
def test_codes_follow_the_content(event: object, cameo_root: str, plover: str) -> None:
    """A denial is a rejection, a critical statement an accusation, a pledge a promise
    (not the signing of an agreement, nor aid delivered)."""
    cameo, found = codes(event)  # type: ignore[arg-type]
    assert (cameo is not None and cameo[:2], found) == (cameo_root, plover)


# The rows of openeventdata/PLOVER `CAMEO2PLOVER-2021.txt` (PLOVER draft 0.8), verbatim.
PUBLISHED = """
030: AGREE,  , diplomatic # Express intent to cooperate
033: AGREE,  , diplomatic # Express intent to provide material aid
040: CONSULT, ,  # Consult
051: SUPPORT,  , diplomatic # Praise or endorse
060: COOPERATE,   ,  # Engage in material cooperation
070: AID,   ,  # Provide aid
080: CONCEDE,   ,  # Yield
100: REQUEST,  ,  # REQUEST
103: REQUEST, assist,  # Demand aid
1042: REQUEST, change, executive # Demand policy change
111: ACCUSE, disapprove,    # Criticize or denounce
120: REJECT,  ,    # Reject
130: THREATEN,   ,   # Threaten
"""
DROPPED = {"01", "02"}
"""CAMEO's public statements and appeals, which PLOVER dropped."""


def _published() -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
    rows = {}
    for line in PUBLISHED.strip().splitlines():
        code, rest = line.split("#")[0].split(":")
        event, mode, context = (part.strip() for part in rest.split(","))
        contexts = tuple(c.strip() for c in context.split(";") if c.strip())
        rows[code] = (event, mode or None, contexts)
    return rows


def test_the_crosswalk_holds_the_published_rows() -> None:
    assert {
        code: (row.event, row.mode, row.contexts) for code, row in CROSSWALK.items()
    } == _published()


@pytest.mark.parametrize(
    ("event", "cameo_code", "plover_event"),
    [
        (PressureApplied(actors=("POL",), target="DEU", issue="i"), "100", "REQUEST"),
        *[
            (RequestFiled(requester="UKR", addressee="DEU", issue="i", ask=ask), code, "REQUEST")
            for ask, code in [
                (Ask.SUPPLY, "103"),
                (Ask.PERMISSION, "1042"),
                (Ask.RE_EXPORT, "1042"),
                (Ask.OTHER, "100"),
            ]
        ],
        (_decided(Decision.APPROVED), "080", "CONCEDE"),
        (_decided(Decision.PARTIAL), "080", "CONCEDE"),
        (_decided(Decision.DENIED), "120", "REJECT"),
        *[
            (PositionStated(actor="DEU", issue="i", stance=stance), code, plover)
            for stance, code, plover in [
                (Stance.OPPOSED, "120", "REJECT"),
                (Stance.RELUCTANT, "012", None),
                (Stance.UNDECIDED, "014", None),
                (Stance.CONDITIONAL, "030", "AGREE"),
                (Stance.SUPPORTIVE, "030", "AGREE"),
                (Stance.COMMITTED, "033", "AGREE"),
            ]
        ],
        (PledgeAnnounced(donor="USA", recipient="UKR", issue="i", item="m1"), "033", "AGREE"),
        (DeliveryReported(donor="USA", recipient="UKR", item="m1"), "070", "AID"),
        *[
            (StatementIssued(actor="DEU", tone=tone, summary="s"), code, plover)
            for tone, code, plover in [
                (Tone.SUPPORTIVE, "051", "SUPPORT"),
                (Tone.CRITICAL, "111", "ACCUSE"),
                (Tone.NEUTRAL, "010", None),
            ]
        ],
        (ThreatIssued(actor="RUS", target="DEU", summary="s"), "130", "THREATEN"),
        (ConsultationHeld(participants=("DEU", "USA")), "040", "CONSULT"),
        (CoalitionFormed(coalition="c", members=("DEU", "POL"), issue="i"), "060", "COOPERATE"),
        (PrecedentSet(actor="GBR", issue="i", threshold="t", by="k"), None, None),
    ],
)
def test_each_mapping(event: Event, cameo_code: str | None, plover_event: str | None) -> None:
    """Each content's CAMEO code, and the PLOVER row the crosswalk gives it: none for the
    codes PLOVER dropped, the published one for the rest."""
    assert codes(event) == (cameo_code, plover_event)
    row = plover(event)
    if cameo_code is None or cameo_code[:2] in DROPPED:
        assert row is None
    else:
        assert row is not None
        assert (row.event, row.mode, row.contexts) == _published()[cameo_code]
