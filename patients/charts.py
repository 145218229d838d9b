"""Outcome charts for the patient chart: inline SVG drawn on the server (no chart library, no
script, no inline style: the look comes from classes in clinic/static/clinic/pages.css).

Pure functions: a series of (date, value) points in, SVG markup out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 520, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 40


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart(
    *,
    points: Sequence[tuple[dt.date, Decimal | float]],
    y_max: float,
    title: str,
    unit: str,
    ticks: Sequence[float],
    chart_id: str,
) -> SafeString:
    """A line chart of one measure over time, with a title and description for screen readers
    and a <title> on each point (shown on hover) with its date and value."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    values = [(day, float(value)) for day, value in points]
    if values:
        first, last = values[0][0], values[-1][0]
    else:
        first = last = dt.date.today()
    span = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        if len(values) == 1:
            return LEFT + plot_w / 2
        return LEFT + plot_w * (day - first).days / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(max(value, 0.0), y_max) / y_max)

    grid = format_html_join(
        "",
        '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
        '<text class="chart-axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (LEFT, _fmt(y(t)), WIDTH - RIGHT, _fmt(y(t)), LEFT - 6, _fmt(y(t) + 4), _fmt(t))
            for t in ticks
        ),
    )
    path = " ".join(f"{_fmt(x(d))},{_fmt(y(v))}" for d, v in values)
    line = (
        format_html('<polyline class="chart-line" points="{}"></polyline>', path)
        if len(values) > 1
        else ""
    )
    dots = format_html_join(
        "",
        '<circle class="chart-point" cx="{}" cy="{}" r="4"><title>{}: {} {}</title></circle>',
        ((_fmt(x(d)), _fmt(y(v)), f"{d:%Y-%m-%d}", _fmt(v), unit) for d, v in values),
    )
    labels = ""
    if values:
        labels = format_html(
            '<text class="chart-axis" x="{}" y="{}" text-anchor="start">{}</text>'
            '<text class="chart-axis" x="{}" y="{}" text-anchor="end">{}</text>',
            LEFT,
            HEIGHT - 12,
            f"{first:%-d %b %Y}",
            WIDTH - RIGHT,
            HEIGHT - 12,
            f"{last:%-d %b %Y}" if last != first else "",
        )
    description = (
        ", ".join(f"{d:%Y-%m-%d} {_fmt(v)} {unit}" for d, v in values) or "No measures yet."
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-t {}-d">'
        '<title id="{}-t">{}</title><desc id="{}-d">{}</desc>'
        '<rect class="chart-frame" x="{}" y="{}" width="{}" height="{}"></rect>'
        "{}{}{}{}</svg>",
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        LEFT,
        TOP,
        plot_w,
        plot_h,
        grid,
        line,
        dots,
        labels,
    )
