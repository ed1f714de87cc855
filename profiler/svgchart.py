"""Small SVG line/scatter charts for the report: axes with "nice" ticks, grid, series, markers, a legend.

The report's four plots are a few dozen points each. Drawing them with matplotlib cost about 85 % of a
repeated profile in the reconciler and a third of a fresh process's CPU (its import and the Agg raster); this
writes the same kind of chart as text in about a millisecond. The output is deterministic (fixed number
formatting, no ids or timestamps), diffable in Git, and rendered by GitHub in files and pull requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
_MARGIN = {"left": 64, "right": 14, "top": 28, "bottom": 42}


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high <= low:  # one value: a unit range around it
        low, high = low - 1, low + 1
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(index * step, 10) for index in range(first, max(last, first + 1) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def _num(value: float) -> str:
    return f"{value:.1f}"


@dataclass
class Series:
    xs: list[float]
    ys: list[float]
    label: str | None
    color: str
    line: bool = True
    markers: bool = True
    marker: str = "circle"  # circle | ring | cross
    size: float = 3.0
    step: bool = False
    dash: str | None = None
    width: float = 1.5


@dataclass
class Chart:
    """One set of axes."""

    title: str
    xlabel: str
    ylabel: str
    width: int = 480
    height: int = 320
    series: list[Series] = field(default_factory=list)
    vlines: list[tuple[float, str, str]] = field(default_factory=list)  # (x, label, color)
    notes: list[tuple[float, float, str]] = field(default_factory=list)  # (x, y, text)
    legend: str = "upper left"  # upper left | lower right | none

    def plot(self, xs: Sequence[float], ys: Sequence[float], label: str | None = None, *, color: str | None = None,
             markers: bool = True, size: float = 3.0) -> None:
        """A line through the points, with markers."""
        self.series.append(Series(list(xs), list(ys), label, color or self._next_color(), markers=markers, size=size))

    def scatter(self, xs: Sequence[float], ys: Sequence[float], label: str | None = None, *, color: str | None = None,
                marker: str = "circle", size: float = 4.0) -> None:
        self.series.append(Series(list(xs), list(ys), label, color or self._next_color(), line=False, marker=marker,
                                  size=size))

    def steps(self, xs: Sequence[float], ys: Sequence[float], label: str, *, color: str = "#7f7f7f") -> None:
        """A staircase (value held until the next x), e.g. a Pareto front."""
        self.series.append(Series(list(xs), list(ys), label, color, markers=False, step=True, width=1.0))

    def vline(self, x: float, label: str, color: str = "#d62728") -> None:
        self.vlines.append((x, label, color))

    def note(self, x: float, y: float, text: str) -> None:
        self.notes.append((x, y, text))

    def _next_color(self) -> str:
        used = sum(1 for s in self.series if s.color in PALETTE)
        return PALETTE[used % len(PALETTE)]

    def _ranges(self) -> tuple[list[float], list[float]]:
        xs = [x for s in self.series for x in s.xs if math.isfinite(x)] + [x for x, _, _ in self.vlines]
        ys = [y for s in self.series for y in s.ys if math.isfinite(y)]
        xs, ys = xs or [0.0, 1.0], ys or [0.0, 1.0]
        return nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))

    def body(self, left: float = 0, top: float = 0) -> list[str]:
        """SVG elements of the chart placed at (left, top)."""
        xticks, yticks = self._ranges()
        x0, x1, y0, y1 = xticks[0], xticks[-1], yticks[0], yticks[-1]
        pl, pr = left + _MARGIN["left"], left + self.width - _MARGIN["right"]
        pt, pb = top + _MARGIN["top"], top + self.height - _MARGIN["bottom"]

        def sx(x: float) -> float:
            return pl + (x - x0) / (x1 - x0) * (pr - pl)

        def sy(y: float) -> float:
            return pb - (y - y0) / (y1 - y0) * (pb - pt)

        out = [f'<rect x="{_num(pl)}" y="{_num(pt)}" width="{_num(pr - pl)}" height="{_num(pb - pt)}" '
               'fill="white" stroke="#333" stroke-width="1"/>']
        for x in xticks:
            out.append(f'<line x1="{_num(sx(x))}" y1="{_num(pt)}" x2="{_num(sx(x))}" y2="{_num(pb)}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{_num(sx(x))}" y="{_num(pb + 14)}" text-anchor="middle" font-size="10" {_FONT}>'
                       f'{_label(x)}</text>')
        for y in yticks:
            out.append(f'<line x1="{_num(pl)}" y1="{_num(sy(y))}" x2="{_num(pr)}" y2="{_num(sy(y))}" stroke="#e5e5e5"/>')
            out.append(f'<text x="{_num(pl - 4)}" y="{_num(sy(y) + 3)}" text-anchor="end" font-size="10" {_FONT}>'
                       f'{_label(y)}</text>')
        out.append(f'<text x="{_num((pl + pr) / 2)}" y="{_num(top + 18)}" text-anchor="middle" font-size="12" '
                   f'{_FONT}>{escape(self.title)}</text>')
        out.append(f'<text x="{_num((pl + pr) / 2)}" y="{_num(pb + 32)}" text-anchor="middle" font-size="11" '
                   f'{_FONT}>{escape(self.xlabel)}</text>')
        out.append(f'<text x="{_num(left + 14)}" y="{_num((pt + pb) / 2)}" text-anchor="middle" font-size="11" '
                   f'transform="rotate(-90 {_num(left + 14)} {_num((pt + pb) / 2)})" {_FONT}>{escape(self.ylabel)}</text>')
        for x, _, color in self.vlines:
            out.append(f'<line x1="{_num(sx(x))}" y1="{_num(pt)}" x2="{_num(sx(x))}" y2="{_num(pb)}" stroke="{color}" '
                       'stroke-dasharray="5,3"/>')
        for series in self.series:
            points = [(sx(x), sy(y)) for x, y in zip(series.xs, series.ys) if math.isfinite(x) and math.isfinite(y)]
            if series.line and len(points) > 1:
                if series.step:
                    path = [points[0]]
                    for (xa, ya), (xb, yb) in zip(points, points[1:]):
                        path += [(xb, ya), (xb, yb)]
                    points_for_line = path
                else:
                    points_for_line = points
                coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in points_for_line)
                out.append(f'<polyline points="{coords}" fill="none" stroke="{series.color}" '
                           f'stroke-width="{series.width:g}"/>')
            if series.markers:
                out.extend(_marker(series.marker, x, y, series.size, series.color) for x, y in points)
        for x, y, text in self.notes:
            out.append(f'<text x="{_num(sx(x) + 4)}" y="{_num(sy(y) - 4)}" font-size="10" {_FONT}>{escape(text)}</text>')
        out.extend(self._legend(pl, pr, pt, pb))
        return out

    def _legend(self, pl: float, pr: float, pt: float, pb: float) -> list[str]:
        entries = [(s.label, s) for s in self.series if s.label] + [
            (label, Series([], [], label, color, markers=False, dash="5,3")) for _, label, color in self.vlines]
        if not entries or self.legend == "none":
            return []
        width = 14 + 6.2 * max(len(label) for label, _ in entries) + 24
        height = 14 * len(entries) + 6
        x = pl + 6 if self.legend == "upper left" else pr - width - 6
        y = pt + 6 if self.legend == "upper left" else pb - height - 6
        out = [f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(width)}" height="{_num(height)}" fill="white" '
               'fill-opacity="0.85" stroke="#ccc"/>']
        for index, (label, series) in enumerate(entries):
            cy = y + 10 + 14 * index
            if series.line or series.dash:
                dash = f' stroke-dasharray="{series.dash}"' if series.dash else ""
                out.append(f'<line x1="{_num(x + 6)}" y1="{_num(cy)}" x2="{_num(x + 24)}" y2="{_num(cy)}" '
                           f'stroke="{series.color}" stroke-width="1.5"{dash}/>')
            if series.markers:
                out.append(_marker(series.marker, x + 15, cy, min(series.size, 5), series.color))
            out.append(f'<text x="{_num(x + 30)}" y="{_num(cy + 3.5)}" font-size="10" {_FONT}>{escape(label)}</text>')
        return out


def _marker(kind: str, x: float, y: float, size: float, color: str) -> str:
    if kind == "cross":
        return (f'<path d="M{_num(x - size)},{_num(y - size)}L{_num(x + size)},{_num(y + size)}'
                f'M{_num(x - size)},{_num(y + size)}L{_num(x + size)},{_num(y - size)}" stroke="{color}" '
                'stroke-width="2"/>')
    if kind == "ring":
        return (f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{size:g}" fill="none" stroke="{color}" '
                'stroke-width="2"/>')
    return f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{size:g}" fill="{color}"/>'


def to_svg(*charts: Chart) -> bytes:
    """The charts side by side in one SVG document."""
    width, height = sum(c.width for c in charts), max(c.height for c in charts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">', f'<rect width="{width}" height="{height}" fill="white"/>']
    left = 0
    for chart in charts:
        parts.extend(chart.body(left, 0))
        left += chart.width
    parts.append("</svg>")
    return ("\n".join(parts) + "\n").encode()
