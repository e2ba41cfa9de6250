"""Models side by side in the Markdown and HTML reports, from real runs: suites over two models and
over models x wire APIs are recorded against the loopback server, the server is stopped, and the
replay's reports are read (Markdown as text, HTML in headless Chromium).

What a reader must see: one row per prompt, a column per model (``gpt-4o · responses`` when the
APIs differ too), each with its verdict, failed checks, cost, latency and tokens; a sampled case's
pass rate; a multi-step case's final answer and step count; answers that cannot break the table or
run as markup; a per-model summary; and nothing at all for a suite of one model.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.case_ids import expanded_id, variant_free_id
from harness.pricing import usd
from harness.report import json_report, render
from harness.report.html_assets import COMPARE_CSS
from harness.report.markdown import MAX_CHARS
from harness.testing.fake_openai import FakeOpenAI, Rule

from browserutil import browser_page, needs_chromium
from conftest import Project, network_blocked

PAIR = """
    name: pair
    models: [gpt-4o, gpt-5.1]
    temperature: 0
    cases:
      - id: capital
        description: One word, and only the right one.
        prompt: What is the capital of Australia?
        checks:
          - icontains: canberra
      - id: markup
        prompt: Show me some markup.
      - id: essay
        prompt: Write at length about rivers.
      - id: tone
        prompt: "Say hello in a {{ tone }} way."
        matrix:
          tone: [formal, casual]
      - id: coin
        prompt: Flip a coin.
        samples: 4
        checks:
          - contains: heads
      - id: chat
        prompt: Plan a day in Paris.
        turns: [And in winter?]
        checks:
          - contains: "Echo: And in winter?"
      - id: solo
        model: gpt-4o
        prompt: Only one model answers this.
"""
GRID = """
    name: grid
    models: [gpt-4o, gpt-4o-mini]
    api: [chat, responses]
    cases:
      - id: capital
        prompt: What is the capital of Australia?
        checks:
          - icontains: canberra
"""
SINGLE = """
    name: single
    model: gpt-4o
    cases:
      - id: capital
        prompt: What is the capital of Australia?
"""
EVIL = "Use <script>window.__pwned = 1</script> | with a pipe\nand a `tick` on a second line"
ESSAY = "Rivers carve valleys over long ages. " * 40 + "The sea takes them in the end."
COIN_SEED = 11  # a seed under which gpt-5.1's four flips are neither all heads nor all tails


def _rules() -> list[Rule]:
    wrong = [Rule(contains="capital of Australia", model=m, content="Sydney, I think.")
             for m in ("gpt-5.1", "gpt-4o-mini")]
    return [Rule(contains="capital of Australia", model="gpt-4o", content="Canberra."), *wrong,
            Rule(contains="some markup", model="gpt-5.1", content=EVIL),
            Rule(contains="rivers", content=ESSAY),
            Rule(contains="Flip a coin", model="gpt-4o", content="heads"),
            Rule(contains="Flip a coin", model="gpt-5.1", content="heads", failing="tails",
                 pass_probability=0.5, seed=COIN_SEED)]


@pytest.fixture
def reports(project: Project, fake: FakeOpenAI) -> dict[str, Any]:
    """pair, grid and single recorded, then replayed offline with every report written."""
    for rule in _rules():
        fake.add_rule(rule)
    project.suite("pair.yaml", PAIR)
    project.suite("grid.yaml", GRID)
    project.suite("single.yaml", SINGLE)
    assert project.record(fake, "suites").code == 1  # capital fails on gpt-5.1 and gpt-4o-mini
    fake.stop()
    with network_blocked() as attempts:
        done = project.run("run", "suites", "--report", "md=out/run.md", "--report", "html=out/run.html",
                           "--report", "json=out/run.json")
    assert attempts == [] and done.code == 1, done.text
    out = project.root / "out"
    return {"md": (out / "run.md").read_text(), "html": (out / "run.html").read_text(), "html_path": out / "run.html",
            "json": json.loads((out / "run.json").read_text()), "root": project.root}


def _section(md: str, suite: str) -> str:
    start = md.index(f"### Models side by side: {suite} ")
    end = md.find("\n### ", start + 1)
    return md[start:end if end != -1 else None]


def _rows(section: str) -> dict[str, list[str]]:
    """The case table's rows: first cell (the case, without its backticks) -> the other cells."""
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _cases(doc: dict[str, Any], suite: str) -> list[dict[str, Any]]:
    return [c for c in doc["cases"] if c["suite"] == suite]


def test_markdown_puts_each_prompt_in_a_row_and_each_model_in_a_column(reports: dict[str, Any]) -> None:
    section = _section(reports["md"], "pair")
    assert section.startswith("### Models side by side: pair (7 cases)")
    assert "| case | gpt-4o | gpt-5.1 |" in section
    rows = _rows(section)
    # one row per prompt (each matrix value its own), never one for a case of one model
    assert list(rows) == ["capital", "markup", "essay", "tone[formal]", "tone[casual]", "coin", "chat"]
    assert "solo" not in section
    right, wrong = rows["capital"]
    doc = {c["name"]: c for c in _cases(reports["json"], "pair")}
    case = doc["capital[gpt-4o]"]
    assert right.startswith(f"PASS · {usd(case['cost_usd'])} · {case['latency_ms']:,.0f} ms · "
                            f"{case['usage']['total_tokens']:,} tok<br>Canberra.")
    assert wrong.startswith("**FAIL** · ") and "<br>Sydney, I think.<br>✗ icontains: " in wrong


def test_markdown_cells_cannot_break_the_table_or_add_markup(reports: dict[str, Any]) -> None:
    section = _section(reports["md"], "pair")
    line = next(row for row in section.splitlines() if row.startswith("| `markup`"))
    cells = re.split(r"(?<!\\)\|", line)[1:-1]
    assert len(cells) == 3  # the answer's | is escaped and its newline folded: still one row of three
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt; \\| with a pipe and a \\`tick\\` on a second line" in cells[2]
    assert "<script>" not in reports["md"]
    essay = _rows(section)["essay"][0]
    assert "Rivers carve valleys" in essay and "The sea takes them" not in essay and "…" in essay  # trimmed


def test_markdown_per_model_summary_has_passes_cost_and_p50_latency(reports: dict[str, Any]) -> None:
    section = _section(reports["md"], "pair")
    compared = [c for c in _cases(reports["json"], "pair") if c["id"] != "solo"]
    for model in ("gpt-4o", "gpt-5.1"):
        mine = [c for c in compared if c["model"] == model]
        cost = sum(c["cost_usd"] for c in mine)
        p50 = statistics.median(c["latency_ms"] for c in mine)
        tokens = sum(c["usage"]["total_tokens"] for c in mine)
        # a sampled case counts once, by its samples' verdict taken together
        statuses = {c["id"]: (c["samples"]["status"] if "samples" in c else c["status"]) for c in mine}
        passed = sum(s == "passed" for s in statuses.values())
        assert f"| {model} | {passed}/7 | {usd(cost)} | {p50:,.0f} ms | {tokens:,} |" in section
    # today's per-model rows stay in the suites table
    assert "| pair · gpt-4o | 11 |" in reports["md"] and "| pair · gpt-5.1 | 10 |" in reports["md"]


def test_a_sampled_variant_shows_its_pass_rate(reports: dict[str, Any]) -> None:
    steady, coin = _rows(_section(reports["md"], "pair"))["coin"]
    flips = [c for c in _cases(reports["json"], "pair") if c["id"] == "coin[gpt-5.1]"]
    stats = flips[0]["samples"]
    assert len(flips) == 4 and 0 < stats["passed"] < 4  # the stochastic model really disagreed with itself
    assert coin.startswith(f"**FAIL** {stats['passed']}/4 passed ("), coin
    assert f"{usd(sum(c['cost_usd'] for c in flips))} · " in coin  # the four samples' cost
    assert "(sample 1 of 4)" in coin and "samples failed" in coin
    assert steady.startswith("PASS 4/4 passed (100%, 95% CI ")


def test_a_multi_step_case_shows_its_final_answer_and_steps(reports: dict[str, Any]) -> None:
    for cell in _rows(_section(reports["md"], "pair"))["chat"]:
        assert cell.startswith("PASS · ") and " · 2 steps<br>Echo: And in winter?" in cell


def test_models_times_apis_get_a_column_each(reports: dict[str, Any]) -> None:
    section = _section(reports["md"], "grid")
    assert ("| case | gpt-4o · chat | gpt-4o · responses | gpt-4o-mini · chat | gpt-4o-mini · responses |"
            in section)
    cells = _rows(section)["capital"]
    assert [c.split(" · ")[0] for c in cells] == ["PASS", "PASS", "**FAIL**", "**FAIL**"]
    assert "| model · API | passed |" in section and "| gpt-4o · responses | 1/1 |" in section
    assert "| grid · gpt-4o-mini · responses | 1 | 0 | 1 |" in reports["md"]  # per variant in the suites table
    # gpt-4o-mini has no price: its cells say so rather than $0
    assert cells[2].startswith("**FAIL** · $? · ") and "| gpt-4o-mini · chat | 0/1 | $0 (+1 unpriced) |" in section


def test_a_suite_of_one_model_has_no_comparison(reports: dict[str, Any], project: Project) -> None:
    assert "Models side by side: single" not in reports["md"]
    assert 'data-suite="suites/single.yaml"' not in reports["html"]
    done = project.run("run", "suites/single.yaml", "--report", "md=out/one.md", "--report", "html=out/one.html")
    assert done.code == 0
    assert "side by side" not in (project.root / "out/one.md").read_text()
    page = (project.root / "out/one.html").read_text()
    assert "side by side" not in page and COMPARE_CSS not in page and 'class="sbs' not in page


def test_markdown_comparison_stays_within_the_comment_budget(reports: dict[str, Any]) -> None:
    """Many suites of long answers: the comment keeps under GitHub's limit and says where the rest is."""
    run = json_report.run_from(reports["json"])
    pair = [c for c in run.cases if c.suite == "pair"]
    many = tuple(replace(c, suite=f"s{n}", suite_path=f"suites/s{n}.yaml", id=re.sub(r"^[^[]+", rf"\g<0>{k}", c.id))
                 for n in range(12) for k in range(8) for c in pair)  # coin0[gpt-4o], coin1[gpt-4o], ...
    text = render("markdown", replace(run, cases=many))
    assert len(text) < MAX_CHARS
    shown = text.count("### Models side by side: ")
    assert shown >= 2 and f"_Models side by side for {12 - shown} more suite(s) in the HTML report: `s{shown}`" in text
    assert "_… and 6 more cases in the HTML report_" in text  # 56 prompts a suite, at most 50 rows


def test_harness_diff_of_multi_model_runs_still_reports(reports: dict[str, Any], project: Project) -> None:
    """Two saved reports of a multi-model run: the diff finds the regression and shows the head's
    answers side by side."""
    doc = reports["json"]
    base = json.loads(json.dumps(doc))
    for case in base["cases"]:
        if case["name"] == "capital[gpt-5.1]":
            case["status"], case["checks"][0]["passed"] = "passed", True
    (project.root / "out/base.json").write_text(json.dumps(base))
    done = project.run("diff", "out/base.json", "out/run.json", "--report", "md=out/diff.md",
                       "--report", "html=out/diff.html")
    assert done.code == 1, done.text
    md = (project.root / "out/diff.md").read_text()
    assert "### Regressions: newly failing (1)" in md and "`suites/pair.yaml::capital[gpt-5.1]`" in md
    assert _rows(_section(md, "pair"))["capital"][1].startswith("**FAIL** · ")
    assert md.index("### Models side by side: pair") < md.index("### Totals")
    assert 'data-suite="suites/pair.yaml"' in (project.root / "out/diff.html").read_text()


@pytest.mark.parametrize(("matrix", "model", "api"), [
    ((), "gpt-4o", None), ((), None, "responses"), (("formal",), "gpt-4o-mini", "chat"),
    (("a-b", 3), "gpt-5.1", None), (("gpt-4o",), "gpt-4o", "responses")])
def test_variant_labels_come_off_exactly_as_they_went_on(matrix: tuple[Any, ...], model: str | None,
                                                         api: str | None) -> None:
    full = expanded_id("case", matrix, model, api)
    assert variant_free_id(full, model or "m", api or "chat") == expanded_id("case", matrix, None, None)


@needs_chromium
def test_side_by_side_in_a_real_browser(reports: dict[str, Any], tmp_path: Path) -> None:
    with browser_page(tmp_path) as (page, problems):
        page.goto(reports["html_path"].as_uri())
        sections = page.locator("section.sbs")
        assert [h.inner_text() for h in sections.locator("h2").all()] == [
            "Models side by side: grid", "Models side by side: pair"]
        pair = page.locator('section.sbs[data-suite="suites/pair.yaml"]')
        assert pair.locator("table.sbs-cases thead th").all_inner_texts() == ["case", "gpt-4o", "gpt-5.1"]
        grid = page.locator('section.sbs[data-suite="suites/grid.yaml"] table.sbs-cases thead th')
        assert grid.all_inner_texts()[1:] == ["gpt-4o · chat", "gpt-4o · responses", "gpt-4o-mini · chat",
                                              "gpt-4o-mini · responses"]

        def row(case: str) -> Any:
            return pair.locator("table.sbs-cases tbody tr").filter(has=page.locator(f'th .key:text-is("{case}")'))

        right, wrong = row("capital").locator("td").all()
        assert right.locator(".badge").inner_text() == "PASS" and "Canberra." in right.inner_text()
        assert wrong.locator(".badge").inner_text() == "FAIL"
        assert "icontains" in wrong.locator(".sbs-why").inner_text()
        assert "One word, and only the right one." in row("capital").locator("th").inner_text()

        # markup in an answer is text on the page, and none of it ran
        evil = row("markup").locator("td").nth(1)
        evil.locator("summary").click()
        assert "<script>window.__pwned = 1</script> | with a pipe" in evil.locator("pre").inner_text()
        assert page.evaluate("typeof window.__pwned") == "undefined"

        # a long answer: trimmed until opened, from the keyboard
        essay = row("essay").locator("td").first
        assert not essay.locator("pre").is_visible() and "…" in essay.locator("summary").inner_text()
        essay.locator("summary").focus()
        page.keyboard.press("Enter")
        assert essay.locator("pre").is_visible() and "The sea takes them in the end." in essay.locator("pre").inner_text()
        region = pair.locator(".sbs-scroll")
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"

        # a sampled variant by its rate, a multi-step one by its final answer and steps
        coin = row("coin").locator("td").nth(1)
        assert re.search(r"[123]/4 passed \(", coin.locator(".sbs-rate").inner_text())
        chat = row("chat").locator("td").first
        assert "2 steps" in chat.locator(".sbs-facts").inner_text() and "Echo: And in winter?" in chat.inner_text()
        assert page.locator('section.sbs[data-suite="suites/single.yaml"]').count() == 0
        pair.screenshot(path=str(tmp_path / "sbs.png"))
    assert problems == []
    assert (tmp_path / "sbs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
