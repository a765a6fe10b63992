"""A daily bar chart of one meter over one month, as plain geometry for an inline SVG template
(templates/billing/usage/_daily_chart.html): no JavaScript, no chart library. Every bar carries
a <title> with its exact figure, and the template adds a table with the same numbers."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from decimal import Decimal

from billing.usage_selectors import format_quantity

WIDTH = 720
HEIGHT = 220
LEFT = 56  # room for the y labels
RIGHT = 8
TOP = 12
BOTTOM = 28  # room for the x labels
_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


@dataclass(frozen=True)
class Bar:
    day: datetime.date
    value: Decimal
    label: str  # "5 Mar 2026: 12.5 GB"
    x: str
    y: str
    width: str
    height: str


@dataclass(frozen=True)
class Tick:
    position: str
    label: str


@dataclass(frozen=True)
class DailyChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    days: list[tuple[datetime.date, Decimal, str]]  # every day of the month, for the table
    peak: str
    description: str


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10^k not below `value` (1 for nothing)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    scale = Decimal(10) ** exponent
    for step in _STEPS:
        if step * scale >= value:
            return step * scale
    return Decimal(10) * scale  # pragma: no cover - 10 × scale always reaches value


def px(value: float) -> str:
    """An SVG coordinate: 2 decimals at most, no trailing zeros (shared with reporting's charts)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def daily_chart(
    *, month: datetime.date, days: dict[datetime.date, Decimal], unit: str, name: str
) -> DailyChart:
    count = calendar.monthrange(month.year, month.month)[1]
    all_days = [month.replace(day=n) for n in range(1, count + 1)]
    values = [days.get(day, Decimal(0)) for day in all_days]
    peak = max(values, default=Decimal(0))
    top = nice_ceiling(peak)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / count
    bar_w = max(slot * 0.7, 1.0)
    bars = []
    table = []
    for index, (day, value) in enumerate(zip(all_days, values, strict=True)):
        text = f"{format_quantity(value)} {unit}".strip()
        label = f"{day.day} {day:%b %Y}: {text}"
        table.append((day, value, text))
        if value <= 0:
            continue
        height = max(float(value / top) * plot_h, 1.0)
        bars.append(
            Bar(
                day=day,
                value=value,
                label=label,
                x=px(LEFT + index * slot + (slot - bar_w) / 2),
                y=px(TOP + plot_h - height),
                width=px(bar_w),
                height=px(height),
            )
        )
    y_ticks = [
        Tick(px(TOP + plot_h - float(fraction) * plot_h), format_quantity(top * fraction))
        for fraction in (Decimal(0), Decimal("0.5"), Decimal(1))
    ]
    x_days = sorted({1, 8, 15, 22, count})
    x_ticks = [Tick(px(LEFT + (n - 1) * slot + slot / 2), str(n)) for n in x_days]
    active = sum(1 for value in values if value > 0)
    highest = f"{format_quantity(peak)} {unit}".strip()
    description = (
        f"{name} per day in {month:%B %Y}: usage on {active} of {count} days, highest {highest}."
    )
    return DailyChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=TOP + plot_h,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        days=table,
        peak=format_quantity(peak),
        description=description,
    )
