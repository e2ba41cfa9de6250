"""What the pytest door decides at the end of a session from the items' reports: each gated
suite's ``min_pass_rate`` (GateTally) and each case gated on its own samples (CaseTally).

Both are registered in every session (pytest_configure) but look at a report only when it carries
a harness case's properties, so the modules that decide (gates, report/sampled) are imported only
then: a session of someone's own tests never pays for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

from . import redact

if TYPE_CHECKING:
    from .report.records import CaseRecord, Gate
    from .report.sampled import CaseSamples
    from .shard import Shard


class GateTally:
    """The statuses of gated suites' cases, from the test reports, and the gates they give.

    Registered only in the process that reports (the xdist controller, or the only process):
    workers' reports reach it with their user properties, so the tally adds up across workers.
    """

    def __init__(self, shard: Shard | None = None) -> None:
        # path -> (name, minimum, (case node id, status) per sample)
        self.suites: dict[str, tuple[str, float, list[tuple[str, str]]]] = {}
        self.shard = shard  # a shard holds part of each suite: its gate is not decided here

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "harness_gate" not in props:
            return
        if report.when == "call":
            status = props.get("harness_status", "error")
        elif report.when == "setup" and report.skipped:
            status = "skipped"  # a case with `skip:` never reaches the call
        else:
            return
        path, name, minimum, node = cast("tuple[str, str, float, str]", props["harness_gate"])
        self.suites.setdefault(path, (name, float(minimum), []))[2].append((str(node), str(status)))

    def gates(self) -> list[Gate]:
        if not self.suites:
            return []  # a session without gated suites never imports the deciding modules
        from .gates import pass_rate_gate

        found = (pass_rate_gate(*self.suites[path]) for path in sorted(self.suites))
        return [gate for gate in found if gate is not None]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.shard is None and any(not gate.met for gate in self.gates()) \
                and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.shard is not None:
            for path in sorted(self.suites):
                terminalreporter.write_line(redact.clean(
                    f"harness gate not decided on shard {self.shard.text}: {self.suites[path][0]}: min_pass_rate "
                    "needs every case of the suite (harness run --shard and harness merge decide it)"))
            return
        for gate in self.gates():
            terminalreporter.write_line(redact.clean(f"harness gate {'met' if gate.met else 'FAILED'}: "
                                                     f"{gate.text}"), red=not gate.met, green=gate.met)


class CaseTally:
    """The samples of cases with their own gate, from the test reports (added up across xdist
    workers like GateTally's), and each case's decision by report/sampled.py."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.samples: list[CaseRecord] = []
        self.items: dict[str, list[str]] = {}  # case node id -> its samples' pytest node ids

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "harness_case" not in props or not (report.when == "call" or (report.when == "setup" and report.skipped)):
            return
        from .report.records import CaseRecord

        path, suite, case_id, model, sample, rate, hat = cast("tuple[Any, ...]", props["harness_case"])
        status = str(props.get("harness_status", "error")) if report.when == "call" else "skipped"
        record = CaseRecord(suite=str(suite), suite_path=str(path), id=str(case_id), model=str(model), status=status,
                            sample=int(sample), min_pass_rate=None if rate is None else float(rate),
                            min_pass_hat_k=None if hat is None else (int(hat[0]), float(hat[1])))
        self.samples.append(record)
        self.items.setdefault(record.node_id, []).append(report.nodeid)

    def cases(self) -> list[CaseSamples]:
        if not self.samples:
            return []  # a session without such cases never imports the deciding modules
        from .report.sampled import case_samples

        return list(case_samples(sorted(self.samples, key=lambda r: (r.node_id, r.sample))).values())

    @pytest.hookimpl(tryfirst=True)  # before the cache plugin writes what failed, for --lf
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        failing = [c for c in self.cases() if c.status == "failed"]
        if not failing:
            return
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        last_failed = getattr(self.config.pluginmanager.get_plugin("lfplugin"), "lastfailed", None)
        if isinstance(last_failed, dict):  # the whole case runs again under --lf, not one sample
            last_failed.update(dict.fromkeys((n for c in failing for n in self.items[c.node_id]), True))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for case in self.cases():
            if case.status not in ("passed", "failed"):
                continue  # an error, stale or missing sample failed as its own item
            met = case.status == "passed"
            gates = "; ".join(g.text for g in case.gates)
            terminalreporter.write_line(redact.clean(f"harness case gate {'met' if met else 'FAILED'}: "
                                                     f"{case.node_id}: {case.summary}: {gates}"),
                                        red=not met, green=met)
