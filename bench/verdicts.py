"""The targets, judged on what this invocation measured: PASS, MISS, or NOT MEASURED with why.

Every speed target compares numbers taken in the same invocation (the machine is shared: a number
from another hour is another machine). A part that did not run leaves its targets NOT MEASURED.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from door_rows import DoorPart
from live_rows import LivePart
from promptfoo_rows import PROMPTFOO_SIZE, PromptfooPart
from replay_rows import SCALE_BASE, SCALE_SIZE, ColdWarm, Marginal, ReplayPart, ScalePart
from shard_rows import SHARD_SIZE, SHARDS, ShardPart
from table import NotMeasured, Target

SPEEDUP = 20.0  # replay 5,000 vs promptfoo's cached re-run, cold and warm
RSS_MB = 200.0
FLATNESS = 1.3  # marginal ms/case, 10,000 vs 1,000 and 50,000 vs 1,000
ONE_CASE_S = 1.0
DOOR_RATIO = 1.5  # pytest vs the CLI
CPU_MS_PER_CASE = 3.0  # client CPU per recorded case
LIVE_RATIO = {(1_000, False): 1.15, (5_000, False): 1.15, (1_000, True): 1.30, (5_000, True): 1.15}


@dataclass
class Parts:
    """What ran (None where a part did not), and why each part that did not run was left out."""

    replay: ReplayPart | None = None
    promptfoo: PromptfooPart | None = None
    door: DoorPart | None = None
    scale: ScalePart | None = None
    shards: ShardPart | None = None
    live: LivePart | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # part name -> why it did not run

    def why_not(self, name: str) -> str:
        return self.skipped.get(name, "not run")


def _speedup(parts: Parts) -> list[Target]:
    out = []
    for which in ("cold", "warm"):
        name = f"{which} replay of {PROMPTFOO_SIZE:,} >= {SPEEDUP:.0f}x faster than promptfoo's cached re-run"
        got = parts.replay.sizes.get(PROMPTFOO_SIZE) if parts.replay else NotMeasured(parts.why_not("cold"))
        cached = parts.promptfoo.cached if parts.promptfoo else NotMeasured(parts.why_not("promptfoo"))
        if got is None:
            got = NotMeasured(f"no {PROMPTFOO_SIZE:,}-case replay in this invocation")
        if isinstance(got, NotMeasured) or isinstance(cached, NotMeasured):
            why = got if isinstance(got, NotMeasured) else cached
            assert isinstance(why, NotMeasured)
            out.append(Target.not_measured(name, f"{'promptfoo' if why is cached else 'replay'}: {why.reason}"))
            continue
        mine = getattr(got, which)
        out.append(Target(name, f"{mine.wall_s:.2f} s vs {cached.wall_s:.2f} s (both measured now): "
                                f"{cached.wall_s / mine.wall_s:.1f}x (CPU {mine.cpu_s:.2f} s vs {cached.cpu_s:.2f} s: "
                                f"{cached.cpu_s / mine.cpu_s:.1f}x)", cached.wall_s / mine.wall_s >= SPEEDUP))
    return out


def _replay(parts: Parts) -> list[Target]:
    names = (f"peak RSS < {RSS_MB:.0f} MB at 10,000 cases (cold)",
             f"cold replay per case flat 1,000 -> 10,000 (marginal CPU ms/case, <= {FLATNESS}x)",
             f"one-case run < {ONE_CASE_S:.0f} s (cold)")
    replay = parts.replay
    if replay is None:
        return [Target.not_measured(name, parts.why_not("cold")) for name in names]
    out = []
    big = replay.sizes.get(10_000)
    out.append(Target(names[0], f"{big.cold.rss_mb:.0f} MB (warm {big.warm.rss_mb:.0f} MB)",
                      max(big.cold.rss_mb, big.warm.rss_mb) < RSS_MB) if isinstance(big, ColdWarm)
               else Target.not_measured(names[0], big.reason if big else "10,000 not in this mode"))
    flat = replay.flatness(1_000, 10_000)
    out.append(_linear(names[1], flat) if flat else Target.not_measured(names[1], "1,000 and 10,000 not both measured"))
    one = replay.one
    out.append(Target(names[2], f"{one.cold.wall_s:.2f} s (warm {one.warm.wall_s:.2f} s)",
                      one.cold.wall_s < ONE_CASE_S) if isinstance(one, ColdWarm)
               else Target.not_measured(names[2], one.reason))
    return out


def _door(parts: Parts) -> list[Target]:
    if parts.door is None:
        return [Target.not_measured(f"pytest door <= {DOOR_RATIO}x the CLI", parts.why_not("pytest"))]
    out = []
    for door in parts.door.doors:
        for which in ("cold", "warm"):
            name = f"`pytest suites/ -q` <= {DOOR_RATIO}x `harness run suites/ -q`, {door.project}, {which}"
            ratio = door.ratio(which)
            if isinstance(ratio, NotMeasured):
                out.append(Target.not_measured(name, ratio.reason))
                continue
            assert isinstance(door.cli, ColdWarm) and isinstance(door.pytest, ColdWarm)
            agree = door.cli.passed == door.pytest.passed
            mine, cli = getattr(door.pytest, which), getattr(door.cli, which)
            measured = (f"{mine.wall_s:.2f} s vs {cli.wall_s:.2f} s: {ratio:.2f}x (CPU {mine.cpu_s:.2f} s vs "
                        f"{cli.cpu_s:.2f} s: {mine.cpu_s / cli.cpu_s:.2f}x)" + ("" if agree else "; pass counts differ"))
            out.append(Target(name, measured, ratio <= DOOR_RATIO and agree))
    return out


def _scale(parts: Parts) -> list[Target]:
    out = []
    for command in ("validate", "run"):
        name = (f"`harness {command}` cold, {SCALE_SIZE:,} cases linear: marginal CPU ms/case beyond {SCALE_BASE:,} "
                f"<= {FLATNESS}x up to it")
        got: Marginal | NotMeasured = (parts.scale.marginal.get(command, NotMeasured("not run")) if parts.scale
                                       else NotMeasured(parts.why_not("scale")))
        out.append(Target.not_measured(name, got.reason) if isinstance(got, NotMeasured) else _linear(name, got))
    return out


def _linear(name: str, marginal: Marginal) -> Target:
    """PASS when the CPU marginal at scale is at most FLATNESS times the one at base; a base marginal
    at or below zero is noise, not a measurement."""
    if marginal.ratio is None:
        return Target(name, marginal.shown(), None, "marginal CPU up to the base is not above zero (noise)")
    return Target(name, marginal.shown(), marginal.ratio <= FLATNESS)


def _shards(parts: Parts) -> list[Target]:
    name = f"{SHARDS} shards of {SHARD_SIZE:,} + merge: merged exit status = one job's"
    shards = parts.shards
    if shards is None:
        return [Target.not_measured(name, parts.why_not("shards"))]
    if isinstance(shards.single, NotMeasured):
        return [Target.not_measured(name, shards.single.reason)]
    if shards.merge is None or shards.matrix_s is None:
        return [Target.not_measured(name, "merge did not run")]
    speed = shards.single.wall_s / shards.matrix_s
    return [Target(name, f"exit {shards.merge.code} vs {shards.single.code}; slowest shard + merge "
                         f"{shards.matrix_s:.2f} s vs one job {shards.single.wall_s:.2f} s ({speed:.2f}x)",
                   shards.merge.code == shards.single.code and shards.single.code is not None)]


def _live(parts: Parts) -> list[Target]:
    cpu_name = f"live client CPU <= {CPU_MS_PER_CASE:.0f} ms per recorded case (every live row)"
    if parts.live is None:
        return [Target.not_measured(cpu_name, parts.why_not("live"))] + [
            Target.not_measured(f"live record {n:,}{', 5% 429s' if f else ''} within {r}x ideal", parts.why_not("live"))
            for (n, f), r in LIVE_RATIO.items()]
    runs = parts.live.runs
    worst = max(runs, key=lambda r: r.cpu_ms_per_case)
    out = [Target(cpu_name, f"at most {worst.cpu_ms_per_case:.2f} ms/case", worst.cpu_ms_per_case <= CPU_MS_PER_CASE)]
    for (n, faults), limit in LIVE_RATIO.items():
        name = f"live record {n:,}{', 5% 429s' if faults else ''} within {limit}x ideal"
        run = next((r for r in runs if r.n == n and r.faults == faults), None)
        if run is None:
            out.append(Target.not_measured(name, f"{n:,} not in this mode"))
        else:
            out.append(Target(name, f"{run.ratio:.2f}x" + ("" if run.complete else " (incomplete)"),
                              run.ratio <= limit and run.complete))
    return out


def targets(parts: Parts) -> list[Target]:
    return [*_speedup(parts), *_replay(parts), *_door(parts), *_scale(parts), *_shards(parts), *_live(parts)]
