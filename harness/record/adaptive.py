"""Run planned cases, and give an adaptive case one more sample while its verdict is unclear.

Each case's samples are sequential decisions: the ``min`` first ones (and the extra ones already
recorded) run like any case, in parallel; once all of them are judged, harness.stats.needs_more
says whether one more is needed, and so on up to ``max``. Different cases decide in parallel. An
extra sample is a case like the others (its own cassette, ``id#3.yaml``), run down the same road,
so each record mode, the budget and the cassette locks apply to it unchanged, and replay takes
exactly the samples that were recorded (suite.load_suite lists them), offline.

A case stops taking samples when one is not judged (a request failed, the budget refused it, the
run was stopped): a decision made on fewer answers than the rule asked for would not be the one a
replay shows. ``--record-mode all`` decides afresh: the extra samples recorded before are not
re-sent first, and those the new decision does not reach are deleted once it is made, so that
replay never mixes answers from two recordings.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

from ..suite import Case
from .parking import Parking
from .sampling import Adaptive

#: Statuses that judged an answer; others (skipped, missing, stale) say nothing about the model.
JUDGED = ("passed", "failed", "error")


class _Planned(Protocol):
    @property
    def case(self) -> Case: ...


class _Result(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def verdicts(self) -> Sequence[object]: ...


P = TypeVar("P", bound=_Planned)
R = TypeVar("R", bound=_Result)


@dataclass
class _Group:
    """One adaptive case: its rule, its samples so far, and where the next one goes."""

    rule: Adaptive
    anchor: int  # position of its first sample in the plan: extra samples are listed after it
    last: _Planned  # a planned sample, the model for the next one
    outstanding: int = 0
    next_sample: int = 0
    passed: int = 0
    judged: int = 0
    broken: bool = False
    samples: set[int] = field(default_factory=set)


def _judged(result: _Result) -> bool:
    """Whether a result judged an answer that is now in its cassette: an error with verdicts did
    (a check failed to run, or the answer was an error); one without never got an answer."""
    return result.status in ("passed", "failed") or (result.status == "error" and bool(result.verdicts))


class Sampler:
    """Tracks the adaptive cases of one run and hands out their next sample."""

    def __init__(self, planned: Sequence[_Planned], *, record_mode: str, stop: threading.Event,
                 enabled: bool = True) -> None:
        self.record_mode = record_mode
        self.stop = stop
        self.groups: dict[str, _Group] = {}
        self.order: dict[int, tuple[int, int]] = {}  # id(planned item) -> where it is listed
        for index, item in enumerate(planned):
            case = item.case
            group = self.groups.get(case.node_id) if case.adaptive is not None else None
            if case.adaptive is not None and group is None:
                group = self.groups[case.node_id] = _Group(case.adaptive, index, item)
            anchor = group.anchor if group is not None else index
            self.order[id(item)] = (anchor, case.sample)
            if group is not None:
                group.samples.add(case.sample)
                group.last = item
        # Only a run that holds each case's first ``min`` samples decides for it (the pytest
        # door runs one sample per item; its extra samples are the ones recorded before).
        sampling = enabled and record_mode != "none"
        for key, group in list(self.groups.items()):
            if not sampling or not set(range(group.rule.min)) <= group.samples:
                del self.groups[key]

    def initial(self, planned: Sequence[P]) -> list[P]:
        """What runs first: every planned sample, except that ``all`` drops the extra ones
        recorded before (it decides afresh from ``min``)."""
        out = []
        for item in planned:
            group = self.groups.get(item.case.node_id)
            if group is not None and self.record_mode == "all" and item.case.sample >= group.rule.min:
                continue
            if group is not None:
                group.outstanding += 1
                group.next_sample = max(group.next_sample, item.case.sample + 1)
            out.append(item)
        return out

    def key(self, item: _Planned) -> tuple[int, int]:
        """Where a result is listed: extra samples right after their case's others."""
        group = self.groups.get(item.case.node_id)
        return (group.anchor, item.case.sample) if group is not None else self.order[id(item)]

    def listed(self, item: _Planned, result: _Result) -> bool:
        """Whether a result is reported: an extra sample that the stopped run never started is
        not (the case simply has fewer samples, as its replay will)."""
        group = self.groups.get(item.case.node_id)
        return not (group is not None and item.case.sample >= group.rule.min
                    and result.status == "skipped" and self.stop.is_set())

    def finished(self, item: P, result: _Result) -> P | None:
        """Count a judged sample; the next sample to run for its case, if the rule wants one."""
        group = self.groups.get(item.case.node_id)
        if group is None:
            return None
        group.outstanding -= 1
        if _judged(result):
            group.judged += 1
            group.passed += result.status == "passed"
        else:
            group.broken = True
        if group.outstanding > 0 or group.broken or self.stop.is_set():
            return None
        if group.next_sample < group.rule.max and group.rule.needs_more(group.passed, group.judged):
            sample = group.next_sample
            group.next_sample += 1
            group.outstanding = 1
            return replace(item, case=replace(item.case, sample=sample))  # type: ignore[type-var]
        if self.record_mode == "all":
            _forget_beyond(item.case, group.next_sample, group.rule.max)
        return None


def _forget_beyond(case: Case, first: int, last: int) -> None:
    """Delete the samples ``first..last-1`` an earlier recording left: the new decision stopped
    before them, and replay takes every sample it finds."""
    for sample in range(first, last):
        path: Path = replace(case, sample=sample).cassette_path
        path.unlink(missing_ok=True)


def run_all(planned: Sequence[P], run: Callable[[P], R], sampler: Sampler, *, workers: int | None,
            progress: Callable[[R], None] | None = None, parking: Parking | None = None) -> list[R]:
    """Run every planned sample and the extra ones the sampler asks for; in this thread when
    ``workers`` is None, else on ``workers`` threads, plus one for each thread ``parking`` counts
    (waiting to retry, or done sending; up to twice ``workers``). Results come in plan order, extra samples after their case's
    others."""
    done: list[tuple[tuple[int, int], R]] = []

    def finish(item: P, result: R) -> P | None:
        if sampler.listed(item, result):
            done.append((sampler.key(item), result))
            if progress is not None:
                progress(result)
        return sampler.finished(item, result)

    queue = deque(sampler.initial(planned))
    if workers is None:
        while queue:
            item = queue.popleft()
            follow = finish(item, run(item))
            if follow is not None:
                queue.appendleft(follow)
    else:
        _pooled(queue, run, finish, workers, parking or Parking())
    done.sort(key=lambda pair: pair[0])
    return [result for _key, result in done]


def _pooled(queue: deque[P], run: Callable[[P], R], finish: Callable[[P, R], P | None], workers: int,
            parking: Parking) -> None:
    """Run ``queue`` on a pool, handing a case to a thread only when one is free: submitting all of
    them at once would start every thread the pool may have, and idle threads are not free on a
    small machine (each wakes for the GIL).

    The thread that ran a case also counts its result (``finish``, one at a time under a lock)
    and starts the next case: handing each result to the calling thread woke that thread once
    per case, one more GIL hand-off per case on the machine's busiest path (and a result queue
    beside it). The calling thread only waits for the end, or for a failure to raise.
    """
    most = 2 * workers
    lock = threading.Lock()
    running = 0
    closed = False  # set when this loop ends or a case failed: nothing more is started
    over = threading.Event()
    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=most) as pool:

        def fill() -> None:
            """Start cases while there are free threads. A thread that parks (before a retry, or
            done sending) calls it itself, as does a thread whose case is over."""
            nonlocal running
            with lock:
                while not closed and queue and (not running or running < min(workers + parking.count, most)):
                    item = queue.popleft()
                    running += 1
                    pool.submit(work, item)

        def work(item: P) -> None:
            nonlocal running, closed
            try:
                try:
                    result = run(item)
                finally:
                    parking.case_over()
                with lock:
                    running -= 1
                    follow = finish(item, result)
                    if follow is not None:
                        queue.append(follow)  # after the cases already waiting, as it always was
                fill()
                with lock:
                    ended = not running
            except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
                with lock:
                    failures.append(exc)
                    closed = True
                ended = True
            if ended:
                over.set()

        parking.listen(fill)
        try:
            fill()
            with lock:
                idle = not running
            if not idle:
                over.wait()
            if failures:
                raise failures[0]
        finally:
            parking.listen(None)
            with lock:
                closed = True
