"""Charts for the dashboard, drawn on the server as small, accessible SVG (a title, a
description and the numbers as text), with no script and no inline style, so they render
under the app's Content-Security-Policy and print cleanly. Colours come from the CSS classes
``chart-bar``, ``chart-axis`` and ``chart-label``."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

# The colours as SVG attributes as well as classes: a page's CSS overrides them (the web app
# styles charts from app.css), and a renderer that reads only the SVG itself (WeasyPrint, for
# the PDF report) still draws the same calm colours.
PAINT = {
    "chart-bar": 'fill="#2b5f7f"',
    "chart-axis": 'stroke="#4d5b66" stroke-width="1"',
    "chart-label": 'fill="#1f2a33" font-size="11" font-family="DejaVu Sans, sans-serif"',
    "heat heat-0": 'fill="#f6f8fa" stroke="#d5dde3"',
    "heat heat-1": 'fill="#d3e3ee" stroke="#d5dde3"',
    "heat heat-2": 'fill="#9fc1d8" stroke="#d5dde3"',
    "heat heat-3": 'fill="#5e93b6" stroke="#d5dde3"',
    "heat heat-4": 'fill="#2b5f7f" stroke="#d5dde3"',
}


def _finish(out: list[str]) -> Markup:
    text = "".join(out)
    for cls, attrs in PAINT.items():
        text = text.replace(f'class="{cls}"', f'class="{cls}" {attrs}')
    return Markup(text)  # noqa: S704 - every text in a chart is escaped as it is written


def _open(width: int, height: int, title: str, desc: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
    )


def columns(series: Sequence[tuple[str, int]], *, title: str, every: int = 1) -> Markup:
    """Vertical columns, one per label (say, a week), with the label under every ``every``th
    column and each column's value on hover (its <title>)."""
    width, height, left, bottom, top = 640, 200, 28, 36, 12
    n = max(1, len(series))
    peak = max([v for _, v in series] + [1])
    step = (width - left - 8) / n
    bar = max(2.0, step * 0.7)
    plot = height - bottom - top
    desc = "; ".join(f"{label}: {value}" for label, value in series)
    out = [_open(width, height, title, desc)]
    out.append(
        f'<line class="chart-axis" x1="{left}" y1="{height - bottom}" '
        f'x2="{width - 4}" y2="{height - bottom}"/>'
    )
    out.append(
        f'<text class="chart-label" x="{left - 6}" y="{top + 8}" text-anchor="end">{peak}</text>'
    )
    out.append(
        f'<text class="chart-label" x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>'
    )
    for i, (label, value) in enumerate(series):
        h = plot * value / peak
        x = left + i * step + (step - bar) / 2
        y = height - bottom - h
        out.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if i % every == 0:
            out.append(
                f'<text class="chart-label" x="{x + bar / 2:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    out.append("</svg>")
    return _finish(out)


def bars(items: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """Horizontal bars with their labels and values written out (categories, channels)."""
    row, label_w, width = 28, 190, 440
    height = max(1, len(items)) * row + 8
    peak = max([v for _, v in items] + [1])
    desc = "; ".join(f"{label}: {value}" for label, value in items)
    out = [_open(width, height, title, desc)]
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        w = (width - label_w - 40) * value / peak
        out.append(
            f'<text class="chart-label" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="chart-bar" x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" '
            f'height="{row - 8}"/>'
            f'<text class="chart-label" x="{label_w + w + 6:.1f}" y="{y + 17}">{value}</text>'
        )
    out.append("</svg>")
    return _finish(out)


def heatmap(grid: Sequence[Sequence[int]], rows: Sequence[str], *, title: str) -> Markup:
    """A grid of cells (weekday by hour), each shaded in one of five calm steps by its share of
    the busiest cell, with its count on hover and every non-empty cell listed in the
    description for screen readers."""
    cell, left, top = 22, 40, 22
    cols = max((len(r) for r in grid), default=0)
    width, height = left + cols * cell + 4, top + len(grid) * cell + 4
    peak = max([v for r in grid for v in r] + [1])
    listed = [
        f"{rows[d]} {h:02d}:00: {v}" for d, r in enumerate(grid) for h, v in enumerate(r) if v
    ]
    svg = _open(width, height, title, "; ".join(listed) or "Nothing recorded.")
    out = [svg.replace('class="chart"', 'class="chart heatmap"', 1)]
    for h in range(0, cols, 3):
        out.append(
            f'<text class="chart-label" x="{left + h * cell + cell / 2:.0f}" y="{top - 8}" '
            f'text-anchor="middle">{h:02d}</text>'
        )
    for d, r in enumerate(grid):
        y = top + d * cell
        out.append(
            f'<text class="chart-label" x="{left - 6}" y="{y + 15}" text-anchor="end">'
            f"{escape(rows[d][:3])}</text>"
        )
        for h, v in enumerate(r):
            step = 0 if v == 0 else 1 + min(3, int(4 * v / (peak + 1)))
            out.append(
                f'<rect class="heat heat-{step}" x="{left + h * cell}" y="{y}" '
                f'width="{cell - 2}" height="{cell - 2}"><title>{escape(rows[d])} '
                f"{h:02d}:00–{h:02d}:59: {v}</title></rect>"
            )
    out.append("</svg>")
    return _finish(out)
