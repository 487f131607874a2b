"""One self-contained HTML page of spend, escalation, savings, cache, findings and failures.

The page is read from the analyst views only (a read-only connection is enough) and carries
everything inline: CSS in a style element, charts as inline SVG, no scripts, fonts, images or
external addresses, and a Content-Security-Policy that would block any of them. Free text that
comes from documents (quotes, rationales, errors, paths) is masked unless asked otherwise.

`data.build_report_data` reads what the page shows into plain dataclasses; `chart` draws the
spend chart from them and `page.render_page` the page around it.
"""

from compliance.read.html_report.data import build_report_data
from compliance.read.html_report.page import render_html_report

__all__ = ["build_report_data", "render_html_report"]
