"""Plain-text tables of an evaluation and of a comparison, for a terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.eval.compare import Comparison
from pipeline.eval.metrics import DEPTH, EvalResult, Scores

__all__ = ["render_comparison", "render_result"]

_TITLE_WIDTH = 40


def render_result(result: EvalResult, titles: Mapping[str, str] | None = None) -> str:
    """Recall@1/5/10 and MRR@10 overall, then per book (with its title when ``titles`` has it)."""
    header = ["book", "questions", *(f"recall@{k}" for k in result.overall.recall), f"mrr@{DEPTH}"]
    rows = [_score_row("all", result.overall)]
    for book, scores in result.per_book.items():
        title = (titles or {}).get(book)
        label = f"{book} {_shorten(title)}" if title else book
        rows.append(_score_row(label, scores))
    return _table(header, rows)


def render_comparison(comparison: Comparison, name_a: str = "A", name_b: str = "B") -> str:
    """Both runs' scores, then per k how many questions each found alone, both or neither."""
    ks = comparison.a.overall.recall
    header = ["run", "questions", *(f"recall@{k}" for k in ks), f"mrr@{DEPTH}"]
    scores = _table(
        header, [_score_row(name_a, comparison.a.overall), _score_row(name_b, comparison.b.overall)]
    )
    paired = _table(
        ["top k", f"{name_a} only", f"{name_b} only", "both", "neither"],
        [
            [str(p.k), str(len(p.a_only)), str(len(p.b_only)), str(p.both), str(p.neither)]
            for p in comparison.paired
        ],
    )
    return f"{scores}\n\n{paired}"


def _score_row(label: str, scores: Scores) -> list[str]:
    return [
        label,
        str(scores.questions),
        *(f"{value:.3f}" for value in scores.recall.values()),
        f"{scores.mrr:.3f}",
    ]


def _shorten(title: str) -> str:
    return title if len(title) <= _TITLE_WIDTH else title[: _TITLE_WIDTH - 1] + "\u2026"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, numbers right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
