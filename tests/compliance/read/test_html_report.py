"""The HTML report rendered in a real headless Chromium: marks match the data, nothing leaks.

The browser is Debian's chromium (/usr/bin/chromium, installed by `make install-test`), driven
by playwright without its own browser download. The page is written to test-output/html-report/
with a full-page screenshot, so a person can look at what the assertions looked at.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from helpers import PROJECT_ROOT

from compliance.read.html_report import build_report_data, render_html_report
from compliance.read.html_report.chart import MIN_SEGMENT_PX
from compliance.read.html_report.data import SEVERITY_ORDER, TOP_BRIEFS
from compliance.read.results import personal_data_rules, usd
from compliance.rules.masking import mask
from compliance.store import db as database
from compliance.store.db import apply_migrations

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without these Chromium keeps trying to reach Google.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
OUT_DIR = PROJECT_ROOT / "test-output" / "html-report"
# Planted in data/samples/hr/employee-onboarding.eml; a rule finding quotes it verbatim.
PLANTED_SSN = "219-09-9999"
UNRESOLVED = ("open", "confirmed")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the HTML report is checked in a real Chromium. "
                    "Run `make install-test` (it installs Debian's chromium package) or "
                    "`apt-get install chromium`.", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `make install-test` "
                    "(pip install -e '.[test]')", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Opened:
    """A page loaded in Chromium, with what it complained about and what it fetched."""

    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(browser, path: Path) -> Opened:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    opened = Opened(page)
    page.on("console", lambda msg: opened.errors.append(f"console: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: opened.errors.append(f"pageerror: {exc}"))
    page.on("request", lambda request: opened.requests.append(request.url))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return opened


def assert_self_contained(opened: Opened, path: Path, text: str) -> None:
    assert opened.errors == []
    assert [url for url in opened.requests if not url.startswith("data:")] == [path.as_uri()]
    assert "<script" not in text.lower()
    for element in opened.page.locator("[src], [href]").all():
        address = element.get_attribute("src") or element.get_attribute("href") or ""
        assert address.startswith("data:"), address


def marks(page) -> list[dict]:
    """Every chart mark: its data attributes and its rendered box."""
    found = []
    for rect in page.locator("svg.chart rect.mark").all():
        box = rect.bounding_box()
        assert box is not None, "a mark is not rendered"
        found.append({"day": rect.get_attribute("data-day"),
                      "provider": rect.get_attribute("data-provider"),
                      "model": rect.get_attribute("data-model"),
                      "usd": rect.get_attribute("data-usd"),
                      "title": rect.locator("title").text_content(),
                      "box": box})
    return found


def shown_spend(conn: duckdb.DuckDBPyConnection, days: int) -> set[tuple[str, str, str, str]]:
    """(day, provider, model, exact USD) of the days the page should show, straight from SQL."""
    rows = conn.execute(
        """
        WITH last AS (
            SELECT greatest(
                (SELECT max(day) FROM cost_by_day_and_model),
                (SELECT max(CAST(timezone('UTC', started_at) AS DATE)) FROM runs)) AS day)
        SELECT day, provider, model, cost_usd FROM cost_by_day_and_model
        WHERE day > (SELECT day FROM last) - CAST(? AS INTEGER)
        """, [days]).fetchall()
    return {(day.isoformat(), provider, model, f"{cost:f}")
            for day, provider, model, cost in rows}


def test_report_in_chromium_matches_the_database(analyst_db, browser):
    _, db_path = analyst_db
    conn = database.reader(db_path)
    try:
        page_html = render_html_report(conn)
        unmasked_html = render_html_report(conn, unmask=True)
        expected_marks = shown_spend(conn, 30)
        open_counts = dict(conn.execute(
            "SELECT severity, count(*) FROM findings WHERE disposition IN (?, ?) "
            "GROUP BY severity", list(UNRESOLVED)).fetchall())
        failed = conn.execute(
            "SELECT rel_path, error FROM document_status "
            "WHERE status NOT IN ('ok', 'partial', 'duplicate')").fetchall()
        planted_quotes = conn.execute(
            "SELECT count(*) FROM findings WHERE contains(quote, ?) AND disposition IN (?, ?)",
            [PLANTED_SSN, *UNRESOLVED]).fetchone()[0]
        briefed = conn.execute("SELECT count(DISTINCT doc_id) FROM document_briefs").fetchone()[0]
        sender = conn.execute("SELECT value FROM document_briefs WHERE field = 'person' "
                              "AND value LIKE '%(sender)'").fetchone()[0]
        sender_address = sender.split("<")[1].split(">")[0]
        personal_quotes = [quote for detector, quote in conn.execute(
            "SELECT detector, quote FROM findings WHERE detected_by = 'rule' "
            "AND disposition IN (?, ?)", list(UNRESOLVED)).fetchall()
            if detector in personal_data_rules()]
    finally:
        conn.close()
    # The fixture promises local and cloud spend, a failed file and the planted SSN as a quote.
    assert {provider for _, provider, _, _ in expected_marks} >= {"local", "anthropic"}
    assert failed and all(error for _, error in failed)
    assert planted_quotes >= 1 and PLANTED_SSN in personal_quotes

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    report = OUT_DIR / "report.html"
    report.write_text(page_html, encoding="utf-8")
    opened = open_page(browser, report)
    page = opened.page
    try:
        page.screenshot(path=str(OUT_DIR / "report.png"), full_page=True)
        assert_self_contained(opened, report, page_html)

        # The chart: one mark per row of cost_by_day_and_model for the shown days.
        found = marks(page)
        assert len(found) == len(expected_marks)
        assert {(m["day"], m["provider"], m["model"], m["usd"]) for m in found} == expected_marks
        for mark in found:
            assert mark["day"] in mark["title"] and mark["model"] in mark["title"]
            assert usd(Decimal(mark["usd"])) in mark["title"]
            # Even a call costing a fraction of a cent gets a visible segment.
            assert mark["box"]["height"] >= MIN_SEGMENT_PX * 0.9 and mark["box"]["width"] > 4
        # A real render check: on the same chart, the larger cost is the taller bar segment.
        cheapest = min(found, key=lambda m: Decimal(m["usd"]))
        dearest = max(found, key=lambda m: Decimal(m["usd"]))
        assert Decimal(dearest["usd"]) > Decimal(cheapest["usd"])
        assert dearest["box"]["height"] > cheapest["box"]["height"] + 10
        # Segments of one day stack: each starts where the one below it ends.
        by_day: dict[str, list[dict]] = {}
        for mark in found:
            by_day.setdefault(mark["day"], []).append(mark)
        for stack in by_day.values():
            stack.sort(key=lambda m: m["box"]["y"])
            for upper, lower in zip(stack, stack[1:], strict=False):
                assert upper["box"]["y"] + upper["box"]["height"] == pytest.approx(
                    lower["box"]["y"], abs=1.0)
        # Every model in the chart has a legend entry.
        legend = page.locator("#spend .legend").inner_text()
        assert all(m["model"] in legend for m in found)

        # Open findings by severity: the counts shown are DuckDB's.
        shown = {card.get_attribute("data-severity"): int(card.get_attribute("data-count"))
                 for card in page.locator("#findings [data-severity]").all()}
        assert shown == {severity: open_counts.get(severity, 0) for severity in SEVERITY_ORDER}
        for severity, count in shown.items():
            visible = page.locator(f'#findings [data-severity="{severity}"] .sev-count')
            assert visible.inner_text() == f"{count:,}"
        assert page.locator("[data-open-findings]").get_attribute("data-open-findings") == str(
            sum(open_counts.values()))

        # The failed documents, with their reasons (masked as everything from documents is).
        failed_table = page.locator("#failed table.failed")
        assert failed_table.locator("tbody tr").count() == len(failed)
        failed_text = failed_table.inner_text()
        for path, error in failed:
            assert html.escape(mask(path, names=True)) in page_html
            assert html.escape(mask(error, names=True)) in page_html
            assert mask(path, names=True) in failed_text
        # Document briefs: every briefed document (up to the page's limit), people masked.
        briefs_table = page.locator("#briefs table.briefs")
        assert briefs_table.locator("tbody tr").count() == min(briefed, TOP_BRIEFS)
        briefs_text = briefs_table.inner_text()
        assert "MASTER SERVICES AGREEMENT" in briefs_text and "England and Wales" in briefs_text
        assert sender_address not in page_html and sender_address in unmasked_html
        # The corrupt sample's reason reads as one in the browser, not just in the source.
        assert "unreadable" in failed_text.lower() or "corrupt" in failed_text.lower()
    finally:
        page.close()

    # Personal data: masked by default, shown only when asked. Every value a personal-data rule
    # found (SSN, IBAN, date of birth, names, e-mails...) is absent from the masked page.
    assert PLANTED_SSN not in page_html
    leaked = [quote for quote in personal_quotes
              if quote in page_html or html.escape(quote) in page_html]
    assert leaked == []
    assert "[SSN]" in page_html
    assert PLANTED_SSN in unmasked_html
    for path, error in failed:
        assert html.escape(path) in unmasked_html and html.escape(error) in unmasked_html
    unmasked = browser.new_page()
    try:
        unmasked.set_content(unmasked_html)
        assert PLANTED_SSN in unmasked.locator("#findings table").inner_text()
        assert "Unmasked" in unmasked.locator(".banner").inner_text()
    finally:
        unmasked.close()


def _synthetic_db() -> duckdb.DuckDBPyConnection:
    """Runs and ledger rows on chosen days: an old day, a cheap local day, a zero-cost day."""
    conn = duckdb.connect()
    apply_migrations(conn)
    base = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
    calls = [
        ("r-old", -40, "anthropic", "claude-old", "4.5"),
        ("r1", 0, "anthropic", "claude-x", "0.0123"),
        ("r1", 0, "local", "smol", "0.000000001"),
        ("r2", 2, "local", "smol", "0.000042"),
        ("r3", 3, "local", "smol", "0"),
    ]
    for run_id, offset in {(run_id, offset) for run_id, offset, *_ in calls}:
        conn.execute(
            "INSERT INTO runs (run_id, orchestrator, source_root, params, started_at, status, "
            "chunks_new, chunks_escalated) VALUES (?, 'cli', '/x', '{}', ?, 'completed', 4, 1)",
            [run_id, base + dt.timedelta(days=offset)])
    for run_id, offset, provider, model, cost in calls:
        conn.execute(
            "INSERT INTO llm_calls (run_id, purpose, provider, model, prompt_version, "
            "price_version, cost_usd, duration_seconds, cpu_seconds, status, created_at) "
            "VALUES (?, 'test', ?, ?, 'p1', 'v1', ?, 1.0, 1.0, 'settled', ?)",
            [run_id, provider, model, Decimal(cost), base + dt.timedelta(days=offset)])
    return conn


def test_chart_keeps_tiny_and_zero_costs_visible_and_limits_the_days(browser, tmp_path):
    conn = _synthetic_db()
    try:
        data = build_report_data(conn, days=30)
        page_html = render_html_report(conn, days=30)
        short_html = render_html_report(conn, days=2)
    finally:
        conn.close()
    assert (data.period_start, data.period_end) == (dt.date(2025, 2, 3), dt.date(2025, 3, 4))
    assert "$0.000000001" in page_html and "$0.000042" in page_html
    report = tmp_path / "synthetic.html"
    report.write_text(page_html, encoding="utf-8")
    opened = open_page(browser, report)
    try:
        assert_self_contained(opened, report, page_html)
        found = {(m["day"], m["model"]): m for m in marks(opened.page)}
        # The day 40 days back is outside the period; the zero-cost day is drawn.
        assert set(found) == {("2025-03-01", "claude-x"), ("2025-03-01", "smol"),
                              ("2025-03-03", "smol"), ("2025-03-04", "smol")}
        assert found[("2025-03-04", "smol")]["usd"] == "0.000000000"
        heights = {key: mark["box"]["height"] for key, mark in found.items()}
        assert min(heights.values()) >= MIN_SEGMENT_PX * 0.9
        assert heights[("2025-03-01", "claude-x")] > 20 * heights[("2025-03-04", "smol")]
        # Days keep their place on a time axis: the gap day (Mar 2) leaves a gap.
        xs = {key[0]: mark["box"]["x"] for key, mark in found.items()}
        step = xs["2025-03-04"] - xs["2025-03-03"]
        assert xs["2025-03-03"] - xs["2025-03-01"] == pytest.approx(2 * step, abs=1.0)
    finally:
        opened.page.close()
    assert 'data-day="2025-03-01"' not in short_html and 'data-day="2025-03-03"' in short_html


@pytest.mark.parametrize(("amount", "text"), [
    ("0", "$0.00"), ("0.000000001", "$0.000000001"), ("0.000123456", "$0.000123"),
    ("0.0123", "$0.0123"), ("0.5", "$0.50"), ("1234.5", "$1,234.50"), ("-0.0004", "−$0.0004"),
])
def test_usd_never_rounds_a_sub_cent_amount_to_zero(amount, text):
    assert usd(Decimal(amount)) == text
