"""The HTML report in a real headless browser: Debian's chromium driven by Playwright.

Open the file, use the filters, see the highlighted differences, make sure an answer's markup is
shown as text and never runs, and take a screenshot. Skipped only when /usr/bin/chromium is absent
(CI installs it with apt-get; Playwright's own browser download cannot work offline).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from harness.compare import compare_runs
from harness.report import render, write_reports
from harness.report.records import RunRecord
from harness.testing.fake_openai import FakeOpenAI

from browserutil import browser_page, needs_chromium
from conftest import Project
from test_reports_formats import EVIL, rerecorded_run


@pytest.fixture
def run(project: Project, fake: FakeOpenAI) -> RunRecord:
    return rerecorded_run(project, fake)


def test_html_is_self_contained_and_escaped(run: RunRecord) -> None:
    page = render("html", run)
    assert "<script>window.__pwned" not in page and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert 'onerror="window' not in page
    assert page.count("<script>") == 1  # the report's own, allowed by hash in the CSP
    assert "Content-Security-Policy" in page and "default-src 'none'" in html.unescape(page)
    urls = set(re.findall(r"(?:src|href)=\"([^\"]*)\"", page)) | set(re.findall(r"https?://[^\s\"'<)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}  # nothing to fetch: no CDN, no font, no image
    assert "<svg" in page and "demo · gpt-4o" in page and "demo · mystery-1" in page  # per-model bars


@needs_chromium
def test_html_report_in_a_real_browser(run: RunRecord, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    write_reports([f"html={report}"], run)
    shot = tmp_path / "report.png"
    with browser_page(tmp_path) as (page, problems):
        page.goto(report.as_uri())
        assert page.locator("#shown").inner_text() == "4 of 4 shown"

        # the answer's markup is text on the page, and none of it ran
        sea = page.locator('.case[data-key="suites/demo.yaml::sea"]')
        assert "<script>window.__pwned = 1</script>" in sea.locator(".side.new pre").inner_text()
        assert page.evaluate("typeof window.__pwned") == "undefined"

        # the differences are highlighted, side by side
        assert sea.locator(".side.old del.hl").first.inner_text() == "calm"
        inserted = sea.locator(".side.new ins.hl")
        assert inserted.first.is_visible()
        assert "rough" in " ".join(inserted.all_inner_texts())
        assert page.locator('.case[data-key="suites/demo.yaml::data"] ins.hl').inner_text() == "1816"

        # filters: hide passed cases, then only changed ones
        page.click('button[data-filter-status="passed"]')
        assert page.locator("#shown").inner_text() == "2 of 4 shown"
        assert not page.locator('.case[data-key="suites/demo.yaml::keep"]').is_visible()
        assert sea.is_visible()
        page.click('button[data-filter-status="passed"]')
        page.check("#only-changed")
        visible = [el.get_attribute("data-key") for el in page.locator(".case").all() if el.is_visible()]
        assert visible == ["suites/demo.yaml::sea", "suites/demo.yaml::data"]
        page.fill("#search", "data")
        assert page.locator("#shown").inner_text() == "1 of 4 shown"
        page.fill("#search", "")
        page.uncheck("#only-changed")

        # the Content-Security-Policy is in force: an injected inline script does not run
        injected = page.evaluate("() => { const s = document.createElement('script');"
                                 " s.textContent = 'window.__injected = 1'; document.body.appendChild(s);"
                                 " return typeof window.__injected; }")
        assert injected == "undefined"
        assert any("Content Security Policy" in m for m in problems)
        problems[:] = [m for m in problems if "Content Security Policy" not in m]

        # the failing check's reason, and the chart
        assert "'calm' not found" in sea.locator(".reasons").inner_text()
        assert page.locator("svg.chart rect.bar-rate").count() == 3  # the suite, and each of its models
        # two models, but no prompt answered by both: nothing to put side by side
        assert page.locator("section.sbs").count() == 0
        page.screenshot(path=str(shot), full_page=True)
    assert problems == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_html_diff_view_has_base_bars_and_removed_cases(run: RunRecord) -> None:
    from dataclasses import replace

    base = replace(run, cases=run.cases[1:] + (replace(run.cases[0], id="gone"),))
    page = render("html", run, compare_runs(base, run, base_label="main", head_label="feature"))
    assert "harness diff: main → feature" in page
    assert 'data-status="removed"' in page and "<title>base: " in page
    assert page.count(EVIL[:10]) >= 1
