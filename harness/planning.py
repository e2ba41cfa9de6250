"""Plan: render every case's first request and bind its checks, before any network is touched.

Planning renders every request (and a multi-step case's turns, and loads its answering tools)
before anything is sent, so every user error in a run is reported at once, with its file, line and
case. The runner then executes the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import redact
from .check_templates import rendered, templated
from .checks.auto import auto_specs
from .checks.registry import BoundCheck, bind
from .diff import DiffOptions
from .episode import Conversation
from .errors import HarnessError
from .pricing import PriceTable
from .project import price_table, project_of
from .prompt_secrets import refuse_secrets
from .render import Renderer, forget_templates
from .request import Request, build_request
from .steps import EpisodePlan, plan_episode
from .suite import Case, CheckSpec
from .tokens import fit_error


@dataclass(frozen=True)
class PlannedCase:
    case: Case
    request: Request
    checks: tuple[BoundCheck, ...]
    prices: PriceTable = field(default_factory=PriceTable)
    diff: DiffOptions = field(default_factory=DiffOptions)
    #: Why the request must not be sent (it cannot fit the model); the case fails if it must record.
    refused: str | None = None
    #: How the case goes on after its first answer (turns, tools that answer themselves); None for
    #: a case of one request.
    episode_plan: EpisodePlan | None = None



def plan_case(case: Case, *, base_url: str | None = None, check_limits: bool = False,
              prices: PriceTable | None = None,
              bound: dict[int, tuple[CheckSpec, BoundCheck | None]] | None = None,
              renderer: Renderer | None = None, diff: DiffOptions | None = None) -> PlannedCase:
    """Render the request and bind the checks (plus the automatic schema checks); ``renderer`` is
    the suite's (its ``for_case()`` renders this case), made here when not given; ``diff`` is how
    the suite compares answers (the default when not given)."""
    try:
        return _plan_case(case, base_url, check_limits, prices, bound, renderer, diff)
    except HarnessError as exc:
        if case.origin and case.origin not in exc.message:  # which row of a data file
            exc.message += f" (the row at {case.origin})"
        raise


def _plan_case(case: Case, base_url: str | None, check_limits: bool, prices: PriceTable | None,
               bound: dict[int, tuple[CheckSpec, BoundCheck | None]] | None,
               suite_renderer: Renderer | None, diff: DiffOptions | None) -> PlannedCase:
    renderer = suite_renderer.for_case() if suite_renderer else Renderer(case.suite_path, case.prompt_roots)
    refused = None
    try:
        episode = plan_episode(case, renderer)
        opening = Conversation(episode.opening) if episode is not None and episode.opening else None
        request = build_request(case, renderer, base_url_override=base_url, conversation=opening)
        refuse_secrets(case, request, redact.current())
        too_big = fit_error(request.body, model=case.model) if check_limits else None
        if too_big is not None:
            refused = str(too_big.located(file=case.suite_path, line=case.line, case=case.id))
        if prices is None:
            prices = PriceTable.from_sources(price_table(project_of(case.suite_path)),
                                             suite_overrides=case.pricing, suite_file=case.suite_path)
    except HarnessError as exc:
        raise exc.located(file=case.suite_path, line=case.line, case=case.id) from None
    specs = list(case.checks)
    if case.auto_checks:
        specs += auto_specs(request, file=str(case.suite_path), line=case.line)
    variables: list[dict[str, Any]] = []  # the case's variables, resolved once if a check uses them
    checks = tuple(_bind_once(spec, case, renderer, variables, bound) for spec in specs)
    return PlannedCase(case, request, checks, prices, diff if diff is not None else DiffOptions(), refused=refused,
                       episode_plan=episode)


def _bind_once(spec: CheckSpec, case: Case, renderer: Renderer, variables: list[dict[str, Any]],
               cache: dict[int, tuple[CheckSpec, BoundCheck | None]] | None) -> BoundCheck:
    """Suite-level checks are one CheckSpec shared by every case: validate them once. A check whose
    argument uses the case's variables (check_templates.py) is rendered and validated per case."""
    hit = cache.get(id(spec)) if cache is not None else None
    if hit is None or hit[0] is not spec:
        hit = (spec, None if templated(spec.arg) else bind(spec, case=case.id))
        if cache is not None:
            cache[id(spec)] = hit
    if hit[1] is not None:
        return hit[1]
    if not variables:
        variables.append(renderer.variables(case.vars, line=case.line, case=case.id))
    return bind(rendered(spec, renderer, variables[0], case.id), case=case.id)


class Planner:
    """Plans cases one at a time, sharing what many cases have in common: each suite's price table
    and diff options, its renderer, and the suite-level checks, bound once.

    ``plan`` plans a whole run with one. The pytest door keeps one for its session, since it plans
    each item's case as the item runs: without the shared tables, every case would read the project
    file and build the price table again.
    """

    def __init__(self, *, base_url: str | None = None, check_limits: bool = False,
                 config: Path | None = None) -> None:
        self.base_url = base_url
        self.check_limits = check_limits
        self.config = config
        self._tables: dict[Path, PriceTable] = {}
        self._diffs: dict[Path, DiffOptions] = {}
        self._bound: dict[int, tuple[CheckSpec, BoundCheck | None]] = {}
        # One renderer per suite and template folders: its folders are resolved once.
        self._renderers: dict[tuple[Path, tuple[Path, ...]], Renderer] = {}
        forget_templates()  # a run renders the template files as they are when it starts

    def plan(self, case: Case) -> PlannedCase:
        """One case's plan; a user error about it is raised (located at its file, line and case)."""
        if case.suite_path not in self._tables:
            table = PriceTable.from_sources(  # project, --config, then the suite
                price_table(project_of(case.suite_path)), config_file=self.config,
                suite_overrides=case.pricing, suite_file=case.suite_path)
            self._diffs[case.suite_path] = DiffOptions.from_mapping(case.diff, file=case.suite_path)
            self._tables[case.suite_path] = table
        where = (case.suite_path, case.prompt_roots)
        if where not in self._renderers:
            self._renderers[where] = Renderer(*where)
        return plan_case(case, base_url=self.base_url, check_limits=self.check_limits,
                         prices=self._tables[case.suite_path], bound=self._bound,
                         renderer=self._renderers[where], diff=self._diffs[case.suite_path])


def plan(cases: list[Case], *, base_url: str | None = None, check_limits: bool = False,
         config: Path | None = None) -> tuple[list[PlannedCase], list[HarnessError]]:
    """Plan every case; collect user errors instead of stopping at the first one.

    ``check_limits`` (when a run may record, and for ``validate``) marks requests that cannot fit the
    model's context window or ask for more output than it gives (``PlannedCase.refused``): such a
    case fails alone when it would be sent. ``config`` is a YAML file with ``pricing:``.
    """
    planner = Planner(base_url=base_url, check_limits=check_limits, config=config)
    planned, errors = [], []
    for case in cases:
        try:
            planned.append(planner.plan(case))
        except HarnessError as exc:
            errors.append(exc)
    return planned, errors
