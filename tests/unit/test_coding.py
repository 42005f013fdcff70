"""CAMEO and PLOVER codes follow what an event says, within each codebook."""

from __future__ import annotations

import pytest
from hypothesis import given

from events import (
    Ask,
    Decision,
    Envelope,
    PledgeAnnounced,
    PressureApplied,
    RequestDecided,
    RequestFiled,
    StatementIssued,
    Tone,
)
from events.codec import envelope_to_dict
from events.coding import codes
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
            "02",
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
