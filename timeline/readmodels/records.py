"""What the projector holds of each dossier's record between pages: fixes and declarations.

Corrections, retractions and declarations apply at every valid time, and
they are a small share of a history, so the projector keeps all of them in
memory, with the events the fixes name (`projections.record.standing` says
what they do). Facts stay in the store: a fact's view (corrected, or None
when retracted) is computed when the fact is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from events import DossierDeclared, Envelope, EventCorrected, EventRetracted
from projections.record import FIXES, Fixes, categories, fix_order, reference, standing
from projections.refs import uuid_int

Find = Callable[[str, Iterable[str]], Mapping[str, Envelope]]
"""The events of a dossier named by key or id (`EventStore.find`), as far as the
projector has come."""

Change = tuple[Envelope | None, Envelope | None]
"""A fact's view before and after some event: None where it was, or is, retracted."""


class DossierRecord:
    """One dossier's fixes, with the events they name, and its declarations."""

    def __init__(self, dossier: str) -> None:
        self.dossier = dossier
        self.fixes: list[Envelope] = []
        self.targets: dict[int, Envelope | None] = {}
        self.declarations: dict[int, Envelope] = {}
        self.standing = Fixes()
        self._named: dict[int, Envelope] = {}
        self._targeted: set[int] = set()
        """Ids (as integers) of the events some fix names."""

    def view(self, envelope: Envelope) -> Envelope | None:
        """The fact as the record now gives it: corrected, or None if retracted."""
        return self.standing.view(envelope)

    def categories(self) -> dict[str, str]:
        views = (self.view(d) for d in self.declarations.values())
        return categories(v for v in views if v is not None)

    def add(self, envelopes: Iterable[Envelope], find: Find) -> list[Change]:
        """Hold new fixes and declarations, resolve what they name, and say which
        earlier events' views changed (facts and declarations alike)."""
        new = [e for e in envelopes if isinstance(e.event, (*FIXES, DossierDeclared))]
        for envelope in new:
            if isinstance(envelope.event, DossierDeclared):
                self.declarations[envelope.id.int] = envelope
            else:
                self.fixes.append(envelope)
        fixes = [e for e in new if isinstance(e.event, FIXES)]
        return self._resolve(fixes, find) if fixes else []

    def resolve_pending(self, arrived: Iterable[Envelope], find: Find) -> list[Change]:
        """Fixes that named nothing may name events that just arrived: look again."""
        unresolved = [f for f in self.fixes if self.targets.get(f.id.int) is None]
        if not unresolved:
            return []
        names = {e.key for e in arrived} | {str(e.id) for e in arrived}
        numbers = {e.id.int for e in arrived}
        hit = [f for f in unresolved if reference(f) in names or uuid_int(reference(f)) in numbers]
        return self._resolve(hit, find) if hit else []

    def _resolve(self, fixes: list[Envelope], find: Find) -> list[Change]:
        found = find(self.dossier, {reference(f) for f in fixes})
        for fix in fixes:
            target = found.get(reference(fix))
            self.targets[fix.id.int] = target
            if target is not None:
                self._named[target.id.int] = target
                self._targeted.add(target.id.int)
        before = self.standing
        if self._plain(fixes):
            self.standing, touched = _with_plain(before, fixes, self.targets)
        else:
            self.standing = standing(self.fixes, lambda f: self.targets.get(f.id.int))
            touched = _touched(before, self.standing)
        return self._changed(before, touched)

    def _plain(self, fixes: list[Envelope]) -> bool:
        """Whether these fixes, just resolved, name facts (or nothing) and no fix names
        them: then they change only what they name, and the fixes already standing are
        left as they were (`_with_plain`). Fixes of fixes need `standing` again."""
        for fix in fixes:
            target = self.targets.get(fix.id.int)
            if fix.id.int in self._targeted or (
                target is not None and isinstance(target.event, FIXES)
            ):
                return False
        return True

    def _changed(self, before: Fixes, touched: set[int]) -> list[Change]:
        after = self.standing
        changes = []
        for number in sorted(touched):
            target = self._named.get(number) or self._own(number)
            if target is not None and not isinstance(target.event, FIXES):
                changes.append((before.view(target), after.view(target)))
        return changes

    def _own(self, number: int) -> Envelope | None:
        """A fix or declaration held here by its id (as an integer)."""
        found = self.declarations.get(number)
        return found or next((f for f in self.fixes if f.id.int == number), None)


def _touched(before: Fixes, after: Fixes) -> set[int]:
    """Ids (as integers) of the events whose view differs between two sets of fixes."""
    return set(before.retracted ^ after.retracted) | {
        number
        for number in before.corrections.keys() | after.corrections.keys()
        if before.corrections.get(number) != after.corrections.get(number)
    }


def _with_plain(
    before: Fixes, fixes: list[Envelope], targets: Mapping[int, Envelope | None]
) -> tuple[Fixes, set[int]]:
    """`before` with fixes that name facts (or nothing) and that no fix names: what
    `projections.record.standing` gives for all of them (no retraction of theirs is
    undone, since nothing names them), and the events whose view they change.

    Standing is otherwise worked out again from every fix of the dossier at each
    group that brings one: thousands, for the few a group brings."""
    named = {fix.id.int: targets.get(fix.id.int) for fix in fixes}
    retracting = {
        target.id.int
        for fix in fixes
        if isinstance(fix.event, EventRetracted) and (target := named[fix.id.int]) is not None
    }
    retracted = before.retracted | retracting
    corrections = {k: v for k, v in before.corrections.items() if k not in retracting}
    touched = retracting - before.retracted
    added: dict[int, list[Envelope]] = {}
    for fix in fixes:
        target = named[fix.id.int]
        if target is None or not isinstance(fix.event, EventCorrected):
            continue
        if target.id.int not in retracted:
            added.setdefault(target.id.int, []).append(fix)
    for number, found in added.items():
        corrections[number] = tuple(sorted((*corrections.get(number, ()), *found), key=fix_order))
        touched.add(number)
    return Fixes(retracted=frozenset(retracted), corrections=corrections), touched


class Records:
    """Every dossier's record, as far as the projector has come."""

    def __init__(self) -> None:
        self.dossiers: dict[str, DossierRecord] = {}

    def of(self, dossier: str) -> DossierRecord:
        found = self.dossiers.get(dossier)
        if found is None:
            found = self.dossiers[dossier] = DossierRecord(dossier)
        return found

    def view(self, envelope: Envelope) -> Envelope | None:
        found = self.dossiers.get(envelope.dossier)
        return envelope if found is None else found.view(envelope)
