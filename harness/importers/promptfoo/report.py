"""What a conversion could not carry over, and what it carried over differently, each with the
place it came from (``file:line`` when the file records lines). Nothing is dropped without a line
here: a promptfoo config can say more than a harness suite, and a user must see what was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    where: str  # promptfooconfig.yaml:12, tests.csv:4, ...
    what: str  # the thing (an assertion type, a provider id, a key)
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.why}"


@dataclass
class Report:
    skipped: list[Item] = field(default_factory=list)  # not converted
    notes: list[Item] = field(default_factory=list)  # converted, with a difference worth knowing

    def skip(self, where: str, what: str, why: str) -> None:
        self.skipped.append(Item(where, what, why))

    def note(self, where: str, what: str, why: str) -> None:
        self.notes.append(Item(where, what, why))

    def grouped_notes(self) -> list[Item]:
        """One line per kind of difference, naming where it applies (a suite may hold hundreds)."""
        places: dict[tuple[str, str], list[str]] = {}
        for item in self.notes:
            seen = places.setdefault((item.what, item.why), [])
            if item.where not in seen:
                seen.append(item.where)
        out = []
        for (what, why), wheres in places.items():
            shown = ", ".join(wheres[:3]) + (f" and {len(wheres) - 3} more" if len(wheres) > 3 else "")
            out.append(Item(shown, what, why))
        return out
