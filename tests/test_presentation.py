"""Report presentation at every time span (issue 15): time axes with at least three labelled UTC
ticks, stacked charts on one x geometry, no empty chart, axis tops at most 25 % above the data, and
every number printed the same way wherever it appears."""

from __future__ import annotations

import html as htmllib
import re
import xml.etree.ElementTree as ET
from functools import cache

import numpy as np
import pytest
from helpers import shapes

from memreport.analyze import analyze
from memreport.analyze.report_json import build
from memreport.analyze.wording import fmt_bytes
from memreport.render.html import render_html

SVG = re.compile(r"<svg class=\"chart ([a-z-]+)\".*?</svg>", re.S)
TIME_CHARTS = ("chart-memory", "chart-swap-rates", "chart-pressure", "chart-ksm")


@cache
def report(shape: str) -> tuple[str, dict[str, ET.Element]]:
    data = shapes.SHAPES[shape]()
    a = analyze(data)
    page = render_html(data, a, build(a))
    charts = {m.group(1): ET.fromstring(m.group(0)) for m in SVG.finditer(page)}
    return page, charts


def _texts(svg: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in svg.iter() if e.tag.endswith("text") and e.get("class") == cls]


def _visible_text(page: str) -> str:
    body = re.sub(r"<(style|title|svg)\b.*?</\1>", " ", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.parametrize("shape", list(shapes.SHAPES))
def test_every_time_chart_has_three_labelled_utc_ticks_and_nothing_is_empty(shape: str) -> None:
    page, charts = report(shape)
    for cls, svg in charts.items():
        marks = [
            e
            for e in svg.iter()
            if (e.tag.endswith("path") and " L" in e.get("d", ""))
            or (e.tag.endswith("circle") and e.get("class") == "lone")
            or (e.tag.endswith("rect") and cls == "chart-vms")
        ]
        assert marks, f"{shape}: {cls} draws no data"
        if cls in TIME_CHARTS:
            labels = [t.text for t in _texts(svg, "xtick")]
            assert len(labels) >= 3, f"{shape}: {cls} has time labels {labels}"
            assert len(set(labels)) == len(labels), labels
            assert re.search(r"\d\d [A-Z][a-z]{2}", labels[0]), f"the first tick carries the date: {labels}"
    if shape == "snapshot":  # one sample: a sentence for each time chart, no plot
        assert not set(charts) & set(TIME_CHARTS)
        assert 'class="no-chart"' in page and "One sample (2026-11-20 00:00:00 UTC)" in page
    else:
        assert "chart-memory" in charts


def test_tick_steps_follow_the_span() -> None:
    seconds = [t.text for t in _texts(report("seconds")[1]["chart-memory"], "xtick")]
    assert seconds[:3] == ["20 Nov 00:00:00", "00:00:01", "00:00:02"]
    week = [t.text for t in _texts(report("week")[1]["chart-memory"], "xtick")]
    assert all(re.fullmatch(r"\d\d Nov", w) for w in week) and len(week) == 7


def _xgeometry(svg: ET.Element) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    axis = [(e.get("x1"), e.get("x2")) for e in svg.iter() if e.tag.endswith("line") and e.get("class") == "x-axis"]
    ticks = [(e.get("x"), e.text) for e in _texts(svg, "xtick")]
    return axis, ticks


@pytest.mark.parametrize("shape", ["minute", "day-gap", "week", "seconds"])
def test_time_charts_share_the_plot_area_and_x_positions(shape: str) -> None:
    _, charts = report(shape)
    present = [c for c in TIME_CHARTS if c in charts]
    assert len(present) >= 2
    first = _xgeometry(charts[present[0]])
    for c in present[1:]:
        assert _xgeometry(charts[c]) == first, f"{shape}: {c} differs from {present[0]}"
    if "chart-swap-rates" in charts and "chart-pressure" in charts:  # the same window shaded at the same x
        bands = [
            [
                (r.get("x"), r.get("width"))
                for r in charts[c].iter()
                if r.tag.endswith("rect") and r.get("fill") == "#f5b7b1" and r.get("fill-opacity") == "0.7"
            ]
            for c in ("chart-swap-rates", "chart-pressure")
        ]
        assert bands[0] == bands[1] and bands[0]


def test_a_long_gap_is_a_break_and_a_lone_point_a_marker() -> None:
    import pandas as pd
    from helpers import synthetic as S

    from memreport.render.charts import memory_chart

    df = S.samples(n=20, interval_s=2.0)  # 38 s of history, then one snapshot 12 minutes later
    last = df.iloc[[-1]].copy()
    last["ts"] = last["ts"] + pd.Timedelta(minutes=12)
    df = pd.concat([df, last], ignore_index=True)
    df["ts"] = df["ts"].astype("datetime64[ms, UTC]")
    data = S.host(df)
    svg = ET.fromstring(str(memory_chart(data, analyze(data))))
    axis = [(float(e.get("x1")), float(e.get("x2"))) for e in svg.iter() if e.tag.endswith("line") and e.get("class") == "x-axis"]
    assert len(axis) == 2 and axis[0][1] - axis[0][0] > 400  # the 38 s keep most of the width
    assert [e for e in svg.iter() if e.tag.endswith("rect") and e.get("class") == "x-break"]
    assert len([e for e in svg.iter() if e.tag.endswith("circle") and e.get("class") == "lone"]) >= 4  # one per line
    assert len(_texts(svg, "xtick")) >= 3


def _data_max(shape: str, cls: str) -> float:
    data = shapes.SHAPES[shape]()
    df, a = data.samples, analyze(data)
    if cls == "chart-memory":
        cols = [df[c].max() for c in ("mem_Active", "mem_Inactive", "mem_Inactive_anon", "mem_MemFree") if c in df]
        return float(max(cols + [(df["mem_SwapTotal"] - df["mem_SwapFree"]).max(), a.swap.swap_total_bytes or 0]))
    if cls == "chart-vms":
        return float(max(max(v.allocated_bytes or 0, v.rss_max_bytes or 0, v.swap_max_bytes or 0) for v in a.vms.rows))
    if cls == "chart-ksm":
        return float(df["ksm_pages_sharing_bytes"].max())
    raise AssertionError(cls)


@pytest.mark.parametrize("shape", ["seconds", "minute", "day-gap", "week"])
def test_axis_tops_are_within_a_quarter_above_the_data(shape: str) -> None:
    _, charts = report(shape)
    for cls in ("chart-memory", "chart-vms", "chart-ksm"):
        if cls not in charts:
            continue
        axes = [e for e in charts[cls].iter() if e.tag.endswith("desc") and e.get("class") in ("y-axis", "v-axis")]
        top = float(axes[0].get("data-max"))
        # the top label agrees with the axis the chart says it drew
        labels = [float(t.text) for t in _texts(charts[cls], "ytick" if cls != "chart-vms" else "vtick")]
        assert labels[0] == 0 and labels[-1] > 0
        dmax = _data_max(shape, cls)
        assert dmax <= top <= 1.25 * dmax, f"{shape}: {cls} axis {fmt_bytes(top)} for data max {fmt_bytes(dmax)}"


NUMBER = re.compile(r"(?<![\w.,])(−?\d[\d,]*(?:\.\d+)?)\s(B|KiB|MiB|GiB|TiB)(?![\w/])")
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def _byte_values(doc: object, out: dict[int, set[str]] | None = None) -> dict[int, set[str]]:
    """Every byte figure of report.json (≥ 1 KiB) → the keys it is found under."""
    out = {} if out is None else out
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, int) and not isinstance(v, bool) and k.endswith("bytes") and abs(v) >= 1024:
                out.setdefault(abs(v), set()).add(k)
            _byte_values(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _byte_values(v, out)
    return out


SHORTFALL = re.compile(r"deficit|to_add|short|headroom")


@pytest.mark.parametrize("shape", list(shapes.SHAPES))
def test_a_number_printed_twice_is_printed_identically(shape: str) -> None:
    """Every byte figure of report.json that the page prints more than once (tiles, answer, findings,
    tables) is printed one way: a deficit rounded up in one place and to nearest in another would
    show as two spellings of one value."""
    page, _ = report(shape)
    data = shapes.SHAPES[shape]()
    a = analyze(data)
    text = _visible_text(page)
    printed = [
        (m.group(0).replace("−", ""), float(m.group(1).replace(",", "").replace("−", "")) * UNITS[m.group(2)])
        for m in NUMBER.finditer(text)
    ]
    figures = _byte_values(build(a))
    for v, keys in figures.items():
        if any(SHORTFALL.search(k) for k in keys) and not all(SHORTFALL.search(k) for k in keys):
            continue  # a shortfall equal to a measured peak (no swap at all): rounded up as a shortfall, to nearest as a peak
        spellings = {fmt_bytes(v), fmt_bytes(v, round_up=True)}
        seen = {s for s, _ in printed if s in spellings}
        # a spelling that is also the nearest spelling of some other figure is that figure's
        others = {s for s in seen if any(fmt_bytes(w) == s for w in figures if w != v)}
        assert len(seen - others) <= 1, f"{shape}: {fmt_bytes(v)} printed as {sorted(seen)}"
    assert figures  # the report has byte figures at all
    # one thousands separator: a comma, never a space or a narrow space between digit groups
    assert not re.search(r"\d[\u202f\u00a0 ]\d{3}\b(?! ?(?:B|KiB|MiB|GiB|TiB|s|min|h|d|%|VMs))", text.replace("\u202f", "\u202f"))
    assert "\u202f" not in text


@pytest.mark.parametrize("shape", list(shapes.SHAPES))
def test_words_rules_by_name_header_without_unknowns_no_backticks(shape: str) -> None:
    page, _ = report(shape)
    text = _visible_text(page)
    assert "article" not in text
    assert "`" not in text
    assert "kernel –" not in text and "– CPUs" not in text
    if shape == "snapshot":  # kernel and CPUs unknown: left out
        header = re.search(r'<div class="meta">\s*(page size[^<]*)</div>', page)
        assert header is not None and "kernel" not in header.group(1)


def test_the_deficit_is_one_number_in_tile_table_answer_and_findings() -> None:
    page, _ = report("week")
    data = shapes.SHAPES["week"]()
    a = analyze(data)
    d = a.swap.deficit_bytes
    assert d is not None and d > 0
    text = _visible_text(page)
    up, near = fmt_bytes(d, round_up=True), fmt_bytes(d)
    assert text.count(up) >= 3
    if up != near:
        assert near not in text
    assert np.isfinite(d)


def test_a_deficit_rounds_up_in_the_table_as_in_the_finding_and_the_answer() -> None:
    """A deficit of 3.84 GiB: 3.8 GiB to nearest, 3.9 GiB rounded up; the page says 3.9 everywhere."""
    from helpers import synthetic as S

    df = S.samples(n=61, swap_total=8 * S.GIB, inactive=int(11.84 * S.GIB), inactive_anon=int(11.84 * S.GIB))
    data = S.host(df)
    a = analyze(data)
    assert a.swap.deficit_bytes is not None and fmt_bytes(a.swap.deficit_bytes) == "3.8 GiB"
    text = _visible_text(render_html(data, a, build(a)))
    assert "3.8 GiB" not in text
    assert text.count("3.9 GiB") >= 2
