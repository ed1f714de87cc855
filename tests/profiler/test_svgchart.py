"""The report's SVG charts: ticks that cover the data, well-formed documents, points where they belong."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from profiler.svgchart import Chart, nice_ticks, to_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("low, high", [(66.0, 277.79), (5.0, 31.6), (0.0, 10799.0), (0.001, 0.97), (3.0, 3.0),
                                       (-4.0, 12.0)])
def test_ticks_are_round_and_cover_the_data(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and len(ticks) >= 2
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1
    mantissa = f"{steps.pop():e}".split("e")[0]
    assert float(mantissa) in (1.0, 2.0, 5.0)


def test_chart_is_well_formed_and_places_points_inside_the_axes():
    chart = Chart("Decode <test>", "ITL (ms)", "tokens/s/GPU")
    chart.plot([5.0, 10.0, 20.0], [100.0, 800.0, 1500.0], "TP=8 & co")
    chart.scatter([10.0], [800.0], "chosen", marker="ring", size=8)
    chart.scatter([20.0], [1500.0], "Dynamo's rule", marker="cross")
    chart.steps([5.0, 10.0], [100.0, 800.0], "Pareto front")
    chart.vline(30.0, "ITL SLA 30 ms")
    document = to_svg(chart)
    assert document == to_svg(chart)  # deterministic
    root = ET.fromstring(document)  # escapes text: '<', '&'
    frame = next(r for r in root.iter(f"{SVG}rect") if r.get("stroke") == "#333")
    left, top = float(frame.get("x")), float(frame.get("y"))
    right, bottom = left + float(frame.get("width")), top + float(frame.get("height"))
    circles = [c for c in root.iter(f"{SVG}circle")]
    assert circles and all(left <= float(c.get("cx")) <= right and top <= float(c.get("cy")) <= bottom
                           for c in circles)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Decode <test>", "TP=8 & co", "chosen", "Dynamo's rule", "Pareto front", "ITL SLA 30 ms"} <= set(texts)
    # y grows downwards: the higher throughput point sits higher in the picture
    markers = sorted((float(c.get("cx")), float(c.get("cy"))) for c in circles if c.get("fill") != "none")
    assert markers[0][1] > markers[-1][1]


def test_charts_side_by_side_share_one_document():
    left, right = Chart("a", "x", "y", width=300), Chart("b", "x", "y", width=200)
    left.plot([0, 1], [0, 1])
    right.plot([0, 1], [1, 0])
    root = ET.fromstring(to_svg(left, right))
    assert root.get("width") == "500"
    assert [t.text for t in root.iter(f"{SVG}text") if t.text in ("a", "b")] == ["a", "b"]
