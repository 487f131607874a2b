"""The report page's style sheet, inlined in a style element (the page loads nothing)."""

CSS = """
:root{--ink:#1f2733;--muted:#5f6b7a;--line:#e3e7ee;--bg:#f5f7fa;--panel:#fff;--accent:#2f5fb3}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
 font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{background:#1d2b45;color:#fff;padding:28px 40px 24px}
header h1{margin:0 0 4px;font-size:24px;font-weight:650;letter-spacing:.2px}
header p{margin:0;color:#c6d0e0}
.banner{background:#9f1d20;color:#fff;padding:10px 40px;font-weight:600}
main{max-width:1240px;margin:0 auto;padding:24px 32px 48px}
section{background:var(--panel);border:1px solid var(--line);border-radius:10px;
 padding:20px 24px;margin:0 0 20px}
h2{margin:0 0 4px;font-size:18px}
h3{margin:20px 0 8px;font-size:14px;color:var(--muted);text-transform:uppercase;
 letter-spacing:.6px}
.lede{margin:0 0 16px;color:var(--muted);max-width:900px}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;background:none;border:0;
 padding:0}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card-label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.5px}
.card-value{font-size:24px;font-weight:650;margin:4px 0 2px;font-variant-numeric:tabular-nums}
.card-detail{font-size:12px;color:var(--muted)}
.chart-box{border:1px solid var(--line);border-radius:8px;padding:12px 12px 4px}
svg.chart{width:100%;height:auto;display:block}
svg.chart .grid{stroke:#e8ecf2;stroke-width:1}
svg.chart .axis{stroke:#9aa5b5;stroke-width:1}
svg.chart text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
 fill:var(--muted)}
svg.chart text.total{fill:var(--ink);font-weight:600}
svg.chart rect.mark{stroke:#fff;stroke-width:.5}
svg.chart rect.mark:hover{opacity:.8}
svg.bar{width:100%;height:28px;display:block;border-radius:6px;margin:12px 0 4px}
.legend{list-style:none;margin:8px 0;padding:0;display:flex;flex-wrap:wrap;gap:6px 22px}
.legend li{display:flex;align-items:center;gap:6px}
.legend .model{font-weight:600}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px}
details{margin-top:12px}
summary{cursor:pointer;color:var(--accent)}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th{text-align:left;font-size:12px;color:var(--muted);font-weight:600;border-bottom:2px solid
 var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
tbody tr:nth-child(even){background:#fafbfd}
.num{text-align:right;white-space:nowrap}
.nowrap{white-space:nowrap}
.sub{font-size:12px;color:var(--muted);margin-top:2px}
table.findings td.finding{min-width:200px;text-transform:none}
table.findings td.quote{width:44%;overflow-wrap:anywhere}
table.findings td.quote q{display:-webkit-box;-webkit-line-clamp:4;-webkit-box-orient:vertical;
 overflow:hidden}
td.path{overflow-wrap:anywhere;min-width:230px;max-width:300px}
td.review{white-space:nowrap}
td.reason{overflow-wrap:anywhere;white-space:pre-wrap;max-width:520px}
.notes{margin:8px 0 0;padding-left:18px;color:var(--muted);font-size:12px}
q{quotes:"“" "”"}
.kpis{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin:4px 0 8px}
.kpis.one{grid-template-columns:1fr}
.kpi{border-left:3px solid var(--line);padding:2px 0 2px 14px}
.big{font-size:26px;font-weight:700;color:var(--ink);line-height:1.2}
.kpi-text{margin:2px 0 8px}
.meter{display:block;width:100%;max-width:320px;height:8px;background:#e8ecf2;
 border-radius:4px;overflow:hidden}
.meter span{display:block;height:100%}
.stats{display:flex;flex-wrap:wrap;gap:10px}
.stat{border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:110px}
.stat-value{font-size:20px;font-weight:650}
.stat-label{font-size:12px;color:var(--muted)}
.sevs{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.sev{border:1px solid var(--line);border-left-width:5px;border-radius:8px;padding:10px 14px}
.sev .meter{max-width:none}
.sev-count{font-size:26px;font-weight:700}
.sev-label{text-transform:capitalize;color:var(--muted);margin-bottom:6px}
.sev-critical{border-left-color:#9f1d20}.sev-high{border-left-color:#d0571c}
.sev-medium{border-left-color:#b8860b}.sev-low{border-left-color:#3b6db3}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
 color:#fff;background:#6b7686;text-transform:capitalize}
.pill-critical{background:#9f1d20}.pill-high{background:#d0571c}
.pill-medium{background:#b8860b}.pill-low{background:#3b6db3}.pill-failed{background:#6b7686}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;text-align:center;padding:0 40px 32px}
@media (max-width:1000px){.cards{grid-template-columns:repeat(3,1fr)}
 .sevs{grid-template-columns:repeat(2,1fr)}.kpis{grid-template-columns:1fr}}
"""
