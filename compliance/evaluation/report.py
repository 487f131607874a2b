"""Evaluation results as a markdown table, a threshold curve and a JSON document."""

from __future__ import annotations

from typing import Any

from compliance.evaluation.metrics import Evaluation


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown_table(evaluation: Evaluation, title: str, precision: bool = False) -> str:
    """Per-category scores, then the totals."""
    head = ["category", "labels", "found", "recall"]
    if precision:
        head += ["selections", "precision"]
    head += ["lost in extraction", "doc precision", "doc recall"]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in range(len(head))) + "|"]
    for category, score in evaluation.categories.items():
        row = [category, str(score.labels), str(score.found), _pct(score.recall)]
        if precision:
            row += [str(score.selections), _pct(score.precision)]
        row += [str(score.lost_in_extraction), _pct(score.doc_precision),
                _pct(score.doc_recall)]
        lines.append("| " + " | ".join(row) + " |")
    total = ["**all**", str(evaluation.labels), str(evaluation.found),
             f"**{_pct(evaluation.recall)}**"]
    if precision:
        total += ["", ""]
    total += [str(sum(s.lost_in_extraction for s in evaluation.categories.values())), "", ""]
    lines.append("| " + " | ".join(total) + " |")
    lines += ["", f"- documents: {evaluation.documents}",
              f"- token share escalated: {_pct(evaluation.token_share)} "
              f"({evaluation.tokens_selected:,} of {evaluation.tokens_total:,} tokens)",
              f"- chunk share escalated: {_pct(evaluation.chunk_share)} "
              f"({evaluation.chunks_escalated} of {evaluation.chunks_total} chunks)"]
    if evaluation.kinds:
        lines.append("- found by kind: " + ", ".join(
            f"{kind} {found}/{labels}" for kind, (labels, found) in evaluation.kinds.items()))
    if evaluation.savings is not None:
        lines.append(f"- estimated cloud cost: ${evaluation.escalated_usd:.4f} against "
                     f"naive_new ${evaluation.naive_new_usd:.4f}: savings "
                     f"{evaluation.savings:.1%}")
    return "\n".join(lines)


def sweep_table(points: list[tuple[str, Evaluation]], title: str) -> str:
    """Recall against escalated share, one row per setting."""
    lines = [f"### {title}", "", "| setting | recall | token share | chunk share | savings |",
             "|---|--:|--:|--:|--:|"]
    for name, evaluation in points:
        savings = "n/a" if evaluation.savings is None else f"{evaluation.savings:.1%}"
        lines.append(f"| {name} | {_pct(evaluation.recall)} | {_pct(evaluation.token_share)} "
                     f"| {_pct(evaluation.chunk_share)} | {savings} |")
    return "\n".join(lines)


def as_json(evaluation: Evaluation) -> dict[str, Any]:
    """The numbers of one evaluation, with the names the issue tracker and README use."""
    return {
        "documents": evaluation.documents,
        "labels": evaluation.labels,
        "found": evaluation.found,
        "recall_primary": evaluation.recall,
        "token_share_escalated": evaluation.token_share,
        "chunk_share_escalated": evaluation.chunk_share,
        "tokens_total": evaluation.tokens_total,
        "tokens_escalated": evaluation.tokens_selected,
        "escalated_usd": evaluation.escalated_usd,
        "naive_new_usd": evaluation.naive_new_usd,
        "savings": evaluation.savings,
        "recall": {c: s.recall for c, s in evaluation.categories.items()},
        "kinds": {k: {"labels": n, "found": f} for k, (n, f) in evaluation.kinds.items()},
        "categories": {
            c: {"labels": s.labels, "found": s.found, "recall": s.recall,
                "lost_in_extraction": s.lost_in_extraction, "selections": s.selections,
                "precision": s.precision, "doc_precision": s.doc_precision,
                "doc_recall": s.doc_recall}
            for c, s in evaluation.categories.items()
        },
    }
