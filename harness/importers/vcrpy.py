"""Split a cassette recorded with vcrpy or pytest-recording into harness's per-case cassettes.

A vcrpy cassette usually holds every request of a test, in the order they were made; harness keeps
one cassette per case, found by the request itself. Each recorded interaction is given to the case
whose request it answers: the same method, path (relative to the API root, so any host and the
``/v1`` or Azure ``/openai`` prefix do not matter), the API's own query and the same JSON body.
Matching on the body is the point: vcrpy's own default does not, and hands back wrong answers when
requests are reordered. Interactions repeated with the same request fill a case's samples in
order. Files are written through cassettes.save (scrubbed of secrets, allow-listed headers, atomic),
so nothing of the recording's transport (an Authorization header, a key in the URL) is carried over.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import apis, cassettes
from ..cassettes import Interaction
from ..errors import HarnessError
from ..planning import PlannedCase
from ..runner import collect, plan, rerecord_command, select_cases


@dataclass(frozen=True)
class Placed:
    """An interaction written (or, without ``force``, left alone) as one case's cassette."""

    interaction: int  # 1-based, in the recording's order
    case: str  # the case's node id with its sample (``suites/x.yaml::id#1``)
    cassette: Path
    written: bool  # False: the cassette was already there, and ``force`` was not given


@dataclass(frozen=True)
class Unmatched:
    """A recorded interaction no selected case sends."""

    interaction: int
    method: str
    path: str
    prompt: str  # the last message or input, shortened, to recognise it by
    why: str


@dataclass(frozen=True)
class VcrImport:
    placed: tuple[Placed, ...]
    unmatched: tuple[Unmatched, ...]
    #: Cases that got no interaction and have no cassette yet (node id and sample).
    uncovered: tuple[str, ...]
    #: Cases of several model calls (turns, tool loops): only their first request can be matched
    #: before they run; their later steps are left in ``unmatched``.
    multi_step: tuple[str, ...]
    #: Cases that could not be planned (a template error, ...): the rest were matched.
    errors: tuple[HarnessError, ...]


def import_cassette(cassette: Path, suites: Sequence[str], *, force: bool = False,
                    keyword: str | None = None) -> VcrImport:
    """Match ``cassette``'s interactions to the cases of ``suites`` and write their cassettes."""
    recorded = cassettes.read(cassette)
    found, selected = collect(list(suites))
    planned, errors = plan(select_cases(found, selected, keyword))
    waiting: dict[str, deque[PlannedCase]] = defaultdict(deque)
    for item in planned:  # samples in order: id, id#1, id#2, ...
        waiting[item.request.key].append(item)
    placed: list[Placed] = []
    unmatched: list[Unmatched] = []
    for index, interaction in enumerate(recorded, 1):
        queue = waiting.get(interaction.key)
        if not queue:
            why = "a case with this request already took an earlier interaction" \
                if interaction.key in waiting else "no case sends this request"
            unmatched.append(Unmatched(index, interaction.method, interaction.path, _summary(interaction), why))
            continue
        placed.append(_place(index, interaction, queue.popleft(), force))
    taken = {p.case for p in placed}
    uncovered = tuple(_label(item) for item in planned
                      if _label(item) not in taken and not item.case.cassette_path.exists())
    multi = tuple(_label(item) for item in planned if item.episode_plan is not None)
    return VcrImport(tuple(placed), tuple(unmatched), uncovered, multi, tuple(errors))


def _label(item: PlannedCase) -> str:
    return f"{item.case.suite_path.as_posix()}::{item.case.name}"


def _place(index: int, interaction: Interaction, item: PlannedCase, force: bool) -> Placed:
    path = item.case.cassette_path
    if path.exists() and not force:
        return Placed(index, _label(item), path, written=False)
    cassettes.save(path, item.case.node_id, [interaction], rerecord=rerecord_command([item.case], "all"))
    return Placed(index, _label(item), path, written=True)


def _summary(interaction: Interaction, limit: int = 60) -> str:
    prompt = apis.for_path(interaction.path).prompt(interaction.body)
    last = prompt[-1] if prompt else ""
    text = " ".join(str(last if not isinstance(last, dict) else next(iter(last.values()), "")).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
