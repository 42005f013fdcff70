"""The pieces the projector refolds items with, against the fold of a whole dossier.

The projector never folds a whole dossier: it refolds one item from one of
its versions (`refold`) and patches a total with what one pledge adds
(`totals.patches`). Each must give exactly the versions the whole fold does.
The oracle here is `DossierFold`, which keeps every item's versions.
"""

from __future__ import annotations

import functools

import attrs
from hypothesis import HealthCheck, given, settings

from events import Envelope, PledgeAnnounced
from projections import totals
from projections.fold import DossierFold, ItemId, refold, touched
from projections.positions import Pledged
from projections.record import UNCATEGORISED, Record, settle
from projections.refs import Resolver
from tests.strategies import archives

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _folded(history: list[Envelope]) -> list[tuple[Record, DossierFold]]:
    found = []
    for record in settle(history, known_at=None):
        fold = DossierFold(record, keep_versions=True)
        fold.run()
        found.append((record, fold))
    return found


def _facts_and_firsts(
    record: Record,
) -> tuple[dict[ItemId, list[Envelope]], dict[tuple[str, str | None], Pledged]]:
    """Each item's facts, and each donor's first pledges over the whole dossier."""
    first: dict[tuple[str, str | None], Pledged] = {}
    for fact in record.facts:
        if isinstance(fact.event, PledgeAnnounced):
            first.setdefault((fact.event.donor, None), Pledged.of(fact))
            first.setdefault((fact.event.donor, fact.event.item), Pledged.of(fact))
    everything: Resolver[Envelope] = Resolver((e, e) for e in record.everything)

    def filing(reference: str) -> str | None:
        found = everything(record.dossier, reference)
        return None if found is None or found.type != "request.filed" else found.key

    facts: dict[ItemId, list[Envelope]] = {}
    for fact in record.facts:
        for item_id in touched(fact, filing):
            facts.setdefault(item_id, []).append(fact)
    return facts, first


def _first(
    first: dict[tuple[str, str | None], Pledged], donor: str, item: str | None
) -> Pledged | None:
    return first.get((donor, item))


@PROPERTY
@given(history=archives(max_size=25))
def test_refolding_an_item_from_any_version_gives_its_versions(history: list[Envelope]) -> None:
    """Refolding one item from the version before any of its versions, with its facts from
    there on and the donors' first pledges, gives the versions the whole fold gave."""
    for record, fold in _folded(history):
        assert fold.versions is not None
        facts, first = _facts_and_firsts(record)
        first_pledge = functools.partial(_first, first)

        for item_id, chain in fold.versions.items():
            if item_id[0] in ("totals", "coalitions"):
                continue
            # Requests are always refolded whole: decisions may precede their filing.
            starts = [0] if item_id[0] == "requests" else range(len(chain))
            for k in starts:
                previous = chain[k - 1][1] if k else None
                later = [
                    f for f in facts.get(item_id, []) if not k or f.occurred.start >= chain[k][0]
                ]
                steps = refold(item_id, previous, later, first_pledge)
                assert [(s.start, s.item) for s in steps] == chain[k:]


@PROPERTY
@given(history=archives(max_size=25))
def test_patching_a_pledge_out_of_its_total_and_back_in_restores_it(
    history: list[Envelope],
) -> None:
    """Taking one pledge item's versions out of its total and putting them back gives the
    total's versions; without it, the total is what the other pledges make."""
    for record, fold in _folded(history):
        assert fold.versions is not None
        zero = totals.NOTHING
        for (section, key), chain in fold.versions.items():
            if section != "pledges":
                continue
            category = record.categories.get(key[3], UNCATEGORISED)
            total = fold.versions.get(("totals", (record.dossier, category)), [])
            out = totals.patches(zero, chain, [])
            without = totals.patched(
                None, record.dossier, category, total, {s: [p] for s, p in out.items()}
            )
            back = totals.patches(zero, [], chain)
            restored = totals.patched(
                None, record.dossier, category, without, {s: [p] for s, p in back.items()}
            )
            assert restored == total
            assert all(version.pledges >= 0 for _, version in without)


@PROPERTY
@given(history=archives(max_size=25))
def test_moving_a_pledge_between_items_of_a_category_leaves_its_total(
    history: list[Envelope],
) -> None:
    """A correction that moves a pledge to another item of the same category patches it
    out of one item and into the other in one step: the total stays as it was, whichever
    patch comes first."""
    for record, fold in _folded(history):
        assert fold.versions is not None
        zero = totals.NOTHING
        for (section, key), chain in fold.versions.items():
            if section != "pledges":
                continue
            category = record.categories.get(key[3], UNCATEGORISED)
            total = fold.versions.get(("totals", (record.dossier, category)), [])
            out = totals.patches(zero, chain, [])
            moved = [(s, attrs.evolve(p, item=f"{p.item}-moved")) for s, p in chain]
            into = totals.patches(zero, [], moved)
            assert out.keys() == into.keys()
            for first, second in ((out, into), (into, out)):
                changes = {s: [first[s], second[s]] for s in out}
                assert totals.patched(None, record.dossier, category, total, changes) == total
