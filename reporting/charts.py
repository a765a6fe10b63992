"""The margin trend as plain geometry for an inline SVG (templates/reporting/portal/
_trend_chart.html): per month two bars, vendor cost and resale revenue, on one scale. No
JavaScript, no chart library; every bar has a <title> with its exact figure and the page shows
the same numbers in a table. A negative figure (a month whose credits exceed its cost) is drawn
as no bar; the table shows it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from billing.usage_charts import Tick, nice_ceiling, px
from partners.evaluation import money

from .selectors import TrendPoint

WIDTH = 720
HEIGHT = 240
LEFT = 72  # room for the y labels (amounts)
RIGHT = 8
TOP = 12
BOTTOM = 28
COST_FILL = "#8a94a6"
REVENUE_FILL = "#1d5bbf"


@dataclass(frozen=True)
class Bar:
    series: str  # "cost" or "revenue"
    fill: str
    label: str  # "October 2026: vendor cost €120.00"
    x: str
    y: str
    width: str
    height: str


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    description: str
    cost_fill: str = COST_FILL
    revenue_fill: str = REVENUE_FILL


def trend_chart(points: list[TrendPoint], currency: str) -> TrendChart:
    values: list[tuple[datetime.date, Decimal, Decimal]] = [
        (
            p.month,
            p.figures.total.vendor_cost if p.figures else Decimal(0),
            p.figures.total.resale_revenue if p.figures else Decimal(0),
        )
        for p in points
    ]
    peak = max((max(cost, revenue) for _, cost, revenue in values), default=Decimal(0))
    top = nice_ceiling(peak)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)
    bar_w = slot * 0.35
    bars: list[Bar] = []
    x_ticks: list[Tick] = []
    for index, (month, cost, revenue) in enumerate(values):
        start = LEFT + index * slot + (slot - 2 * bar_w) / 2
        x_ticks.append(Tick(px(LEFT + index * slot + slot / 2), f"{month:%b %y}"))
        for offset, series, fill, value, name in (
            (0, "cost", COST_FILL, cost, "vendor cost"),
            (1, "revenue", REVENUE_FILL, revenue, "resale revenue"),
        ):
            if value <= 0:
                continue
            height = max(float(value / top) * plot_h, 1.0)
            bars.append(
                Bar(
                    series=series,
                    fill=fill,
                    label=f"{month:%B %Y}: {name} {money(value, currency)}",
                    x=px(start + offset * bar_w),
                    y=px(TOP + plot_h - height),
                    width=px(bar_w),
                    height=px(height),
                )
            )
    y_ticks = [
        Tick(px(TOP + plot_h - float(fraction) * plot_h), money(top * fraction, currency))
        for fraction in (Decimal(0), Decimal("0.5"), Decimal(1))
    ]
    billed = [p for p in points if p.figures is not None]
    if billed:
        first, last = points[0].month, points[-1].month
        best = max(billed, key=lambda p: p.figures.total.margin)  # type: ignore[union-attr]
        description = (
            f"Vendor cost and resale revenue per month, {first:%B %Y} to {last:%B %Y}: "
            f"{len(billed)} billed month{'s' if len(billed) != 1 else ''}; the highest margin "
            f"was {money(best.figures.total.margin, currency)} in {best.month:%B %Y}."  # type: ignore[union-attr]
        )
    else:
        description = "No billed months yet."
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=TOP + plot_h,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        description=description,
    )
