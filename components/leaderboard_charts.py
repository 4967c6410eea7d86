"""Figure builders of the Leaderboard page: plain data in, ``plotly.graph_objects.Figure`` out.

No Streamlit here, so every builder is unit-tested on its data (tests/leaderboard/test_figures.py).
Colours: the winner is green, the champion baseline grey with a dashed reference line, other
candidates blue, so the winner and the baseline are obvious at a glance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, TypeGuard

import plotly.graph_objects as go

from components.chart_labels import label_positions, padded_range
from components.theme import ink, reference_line
from services.registry.runs import is_unset_param

WINNER = "#16a34a"
CHAMPION = "#6b7280"
CANDIDATE = "#2563eb"
MISSING = "#d1d5db"


def _finite(x: Any) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def _floats(values: Sequence[Any]) -> list[float] | None:
    """All values as floats, or None when one is not a number."""
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def row_colour(row: dict[str, Any]) -> str:
    role = row.get("role")
    if role == "champion baseline":
        return CHAMPION
    if role == "winner":
        return WINNER
    return CANDIDATE if _finite(row.get("value")) else MISSING


TOP_BARS = 30  # bars in the ranking chart; the table lists every run


def top_bars(rows: Sequence[dict[str, Any]], limit: int = TOP_BARS) -> tuple[list[dict[str, Any]], int]:
    """The rows the ranking chart shows: all of them up to ``limit`` candidates, else the
    ``limit`` best ranked plus the champion baseline (a bar per run of a 1,000-run board would be
    48,000 px tall); and how many are left out."""
    candidates = [r for r in rows if r.get("role") != "champion baseline"]
    if len(candidates) <= limit:
        return list(rows), 0
    shown = [r for r in rows if r.get("role") == "champion baseline" or 0 < int(r.get("rank") or 0) <= limit]
    return shown, len(rows) - len(shown)


def ranked_bars(rows: Sequence[dict[str, Any]], metric: str, greater_is_better: bool = True) -> go.Figure:
    """Horizontal bars, best at the top: candidates by rank, the champion baseline as a grey bar
    and a dashed line, bootstrap intervals (champion value + delta CI) as error bars.

    ``rows``: dicts with ``run_name``, ``role`` (winner | candidate | champion baseline),
    ``value``, ``rank``, ``delta_vs_champion``, ``ci_low``, ``ci_high`` (deltas, may be None).
    Runs without a value are listed with an empty bar and "no value" text.
    """
    champ = next((r for r in rows if r.get("role") == "champion baseline"), None)
    cval = champ.get("value") if champ else None
    names, values, colours, texts, err_plus, err_minus, hover = [], [], [], [], [], [], []
    for r in rows:
        v = r.get("value")
        names.append(
            f"#{r['rank']} {r['run_name']}"
            if r.get("rank")
            else (f"{r['run_name']} (champion)" if r.get("role") == "champion baseline" else r["run_name"])
        )
        values.append(float(v) if _finite(v) else 0.0)
        colours.append(row_colour({**r, "value": v}))
        d, lo, hi = r.get("delta_vs_champion"), r.get("ci_low"), r.get("ci_high")
        if not _finite(v):
            texts.append("no value")
        elif r.get("role") == "champion baseline":
            texts.append(f"{v:.4f} baseline")
        elif _finite(d):
            texts.append(f"{v:.4f} ({d:+.4f})")
        else:
            texts.append(f"{v:.4f}")
        ci_text = f"<br>Δ 95% CI [{lo:+.4f}, {hi:+.4f}]" if _finite(lo) and _finite(hi) else ""
        if _finite(v) and _finite(lo) and _finite(hi) and _finite(cval):
            err_plus.append(max(0.0, cval + hi - v))
            err_minus.append(max(0.0, v - (cval + lo)))
        else:
            err_plus.append(0.0)
            err_minus.append(0.0)
        hover.append(f"{r['run_name']}<br>{metric}: {texts[-1]}{ci_text}")
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=colours,
            text=texts,
            textposition="none",  # drawn as annotations past the interval's end (below)
            hovertext=hover,
            hoverinfo="text",
            error_x=dict(
                type="data",
                array=err_plus,
                arrayminus=err_minus,
                visible=any(err_plus) or any(err_minus),
                color=ink(),
                thickness=1.5,
                width=4,
            ),
        )
    )
    if _finite(cval):
        fig.add_vline(
            x=cval,
            line_dash="dash",
            line_color=reference_line(),
            annotation_text=f"champion {cval:.4f}",
            annotation_position="top",
        )
    # Each bar's label starts where its bar or its interval ends, whichever is further right, so
    # a label never sits on an error bar. Set at once: fig.add_annotation per bar re-validates
    # every earlier annotation (1,000 bars took minutes).
    font = dict(color=ink())
    labels = [
        go.layout.Annotation(x=v + plus, y=name, text=text, showarrow=False, xanchor="left", xshift=6, font=font)
        for name, v, plus, text in zip(names, values, err_plus, texts)
    ]
    fig.update_layout(annotations=[*fig.layout.annotations, *labels])
    finite = [v for v, r in zip(values, rows) if _finite(r.get("value"))]
    if finite:
        lo_x = min(finite + ([cval] if _finite(cval) else []))
        hi_x = max([v + p for v, p, r in zip(values, err_plus, rows) if _finite(r.get("value"))] + finite)
        hi_x = max(hi_x, cval) if _finite(cval) else hi_x
        pad = (hi_x - lo_x) * 0.35 or abs(hi_x) * 0.05 or 1.0
        fig.update_xaxes(range=[lo_x - pad, hi_x + 1.6 * pad])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=f"{metric} ({'higher' if greater_is_better else 'lower'} is better)",
        xaxis_title=metric,
        height=max(260, 48 * len(rows) + 120),
        margin=dict(l=10, r=10, t=60, b=40),
        showlegend=False,
    )
    return fig


def pareto_front(points: Sequence[tuple[Any, Any]], x_higher: bool = True, y_higher: bool = True) -> list[int]:
    """Indices of the non-dominated points (better-or-equal on both axes, strictly on one), by x."""
    sx, sy = (1 if x_higher else -1), (1 if y_higher else -1)
    idx = [i for i, (x, y) in enumerate(points) if _finite(x) and _finite(y)]
    # One sweep from the best x down (O(n log n), not every pair): of the points sharing an x,
    # those with the group's best y survive when that y beats every y seen at a strictly better x.
    by_x = sorted(idx, key=lambda i: (-sx * points[i][0], -sy * points[i][1]))
    front: list[int] = []
    best_y = -math.inf
    for _, same_x in itertools.groupby(by_x, key=lambda i: sx * points[i][0]):
        group = list(same_x)
        top = sy * points[group[0]][1]
        if top > best_y:
            front += [i for i in group if sy * points[i][1] == top]
        best_y = max(best_y, top)
    front.sort()
    return sorted(front, key=lambda i: points[i][0])


def pareto_scatter(
    rows: Sequence[dict[str, Any]], x: str, y: str, x_higher: bool = True, y_higher: bool = True
) -> go.Figure:
    """Metric-vs-metric scatter of the runs with the Pareto front drawn as a line.

    ``rows``: dicts with ``run_name``, ``role`` and the two metric values under keys ``x``/``y``.
    """
    pts = [(r.get(x), r.get(y)) for r in rows]
    ok = [i for i, (a, b) in enumerate(pts) if _finite(a) and _finite(b)]
    where = dict(zip(ok, label_positions([pts[i][0] for i in ok])))
    front = pareto_front(pts, x_higher, y_higher)
    fig = go.Figure()
    for role, colour, symbol in (
        ("candidate", CANDIDATE, "circle"),
        ("winner", WINNER, "star"),
        ("champion baseline", CHAMPION, "diamond"),
    ):
        sel = [i for i in ok if (rows[i].get("role") or "candidate") == role]
        if not sel:
            continue
        fig.add_trace(
            go.Scatter(
                x=[pts[i][0] for i in sel],
                y=[pts[i][1] for i in sel],
                mode="markers+text",
                name=role,
                text=[rows[i]["run_name"] for i in sel],
                textposition=[where[i] for i in sel],
                cliponaxis=False,
                marker=dict(
                    color=colour,
                    size=14 if role != "candidate" else 10,
                    symbol=symbol,
                    line=dict(width=1, color=ink()),
                ),
            )
        )
    if len(front) >= 1:
        fig.add_trace(
            go.Scatter(
                x=[pts[i][0] for i in front],
                y=[pts[i][1] for i in front],
                mode="lines+markers",
                name="Pareto front",
                line=dict(color="#f59e0b", dash="dot", width=2),
                hoverinfo="skip",
                marker=dict(symbol="circle-open", size=22, color="#f59e0b", line=dict(width=2)),
            )
        )
    fig.update_layout(
        title=f"{y} vs {x}<br><sup>front: {'higher' if x_higher else 'lower'} {x}, "
        f"{'higher' if y_higher else 'lower'} {y}</sup>",
        xaxis=dict(title=x, automargin=True, range=padded_range([pts[i][0] for i in ok])),
        yaxis=dict(title=y, automargin=True, range=padded_range([pts[i][1] for i in ok], 0.15)),
        height=460,
        margin=dict(l=10, r=10, t=80, b=40),
        legend=dict(orientation="h", y=-0.18),
    )
    return fig


def _short(text: str, width: int = 16) -> str:
    """A tick label that fits beside its axis: a logged list as its length, long text cut."""
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    items = [t for t in inner.split(",") if t.strip()]
    if len(items) >= 3 or inner is not text:  # a list, logged as "[a, b]" or "a,b,c"
        return f"{len(items)} items"
    return text if len(text) <= width else text[: width - 1] + "…"


def _param_dimension(name: str, raw: Sequence[Any]) -> dict[str, Any]:
    """One parallel-coordinates axis. Numbers stay numeric; a run that did not set the param
    (MLflow's "None", scikit-learn's "deprecated"/"warn") sits on a "not set" tick below the
    values instead of being an extra category among them."""
    unset = [is_unset_param(v) for v in raw]
    real = [v for v, u in zip(raw, unset) if not u]
    nums = _floats(real)
    if real and nums is not None and all(math.isfinite(n) for n in nums):
        lo, hi = min(nums), max(nums)
        below = lo - max((hi - lo) * 0.2, 1.0 if hi == lo else 0.0)
        it = iter(nums)
        values = [below if u else next(it) for u in unset]
        ticks = sorted(set(nums))
        dim: dict[str, Any] = dict(label=name, values=values)
        if len(ticks) <= 8:  # few distinct values: a tick at each, no invented in-between numbers
            dim.update(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
        if any(unset):
            dim.update(
                tickvals=[below, *dim.get("tickvals", [lo, hi])],
                ticktext=["not set", *dim.get("ticktext", [f"{lo:g}", f"{hi:g}"])],
            )
        return dim
    cats = sorted({str(v) for v in real})
    if any(unset):
        cats = ["not set", *cats]
    pos = {c: i for i, c in enumerate(cats)}
    labels = [_short(c) for c in cats]
    if len(set(labels)) < len(labels):  # two lists of one length: cut text tells them apart
        labels = [c if len(c) <= 16 else c[:15] + "…" for c in cats]
    return dict(
        label=name,
        values=[pos["not set" if u else str(v)] for v, u in zip(raw, unset)],
        tickvals=list(range(len(cats))),
        ticktext=labels,
    )


def parallel_coordinates(rows: Sequence[dict[str, Any]], params: Sequence[str], metric: str) -> go.Figure:
    """Params (numeric or categorical) against the metric; lines coloured by the metric.

    ``rows``: dicts with the param values under ``param:<name>`` (strings as MLflow stores them)
    and the metric value under ``metric``. Non-numeric params get categorical tick labels; runs
    that left a param unset share one "not set" tick.
    """
    use = [r for r in rows if _finite(r.get(metric))]
    dims = [_param_dimension(p, [r.get(f"param:{p}") for r in use]) for p in params]
    vals = [float(r[metric]) for r in use]
    dims.append(dict(label=metric, values=vals))
    fig = go.Figure(
        go.Parcoords(
            line=dict(color=vals, colorscale="Viridis", showscale=True, colorbar=dict(title=metric))
            if vals
            else dict(),
            dimensions=dims,
            labelangle=0,
            labelside="top",
        )
    )
    # The first axis's tick labels are drawn to its left: room for 16 characters.
    fig.update_layout(title=f"params against {metric}", height=440, margin=dict(l=110, r=60, t=90, b=30))
    return fig


def shap_bars(
    table: Sequence[dict[str, Any]],
    champion_label: str = "champion",
    candidate_label: str = "candidate",
    share: bool = True,
) -> go.Figure:
    """Side-by-side horizontal bars of champion vs candidate global importance per feature.

    ``table``: rows of :func:`services.compare.shap.compare_importance`; ``share`` plots shares of
    total importance (comparable across models), else the raw mean |SHAP|.
    """
    order = sorted(table, key=lambda r: -max(r.get("champion_share") or 0, r.get("candidate_share") or 0))
    feats = [r["feature"] for r in order]
    kc, kn = ("champion_share", "candidate_share") if share else ("champion", "candidate")
    fig = go.Figure()
    fig.add_trace(
        go.Bar(y=feats, x=[r.get(kc) for r in order], orientation="h", name=champion_label, marker_color=CHAMPION)
    )
    fig.add_trace(
        go.Bar(y=feats, x=[r.get(kn) for r in order], orientation="h", name=candidate_label, marker_color=WINNER)
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        barmode="group",
        title="global importance: mean |SHAP|" + (" (share of total)" if share else ""),
        xaxis_title="share of total importance" if share else "mean |SHAP|",
        height=max(300, 50 * len(feats) + 120),
        margin=dict(l=10, r=10, t=60, b=40),
    )
    return fig


def shap_detail(
    feature: str,
    x: Sequence[Any],
    champion: Sequence[float],
    candidate: Sequence[float],
    champion_label: str = "champion",
    candidate_label: str = "candidate",
) -> go.Figure:
    """Per-feature detail: each row's SHAP value against the feature's value, both models."""
    fig = go.Figure()
    for vals, label, colour in ((champion, champion_label, CHAMPION), (candidate, candidate_label, WINNER)):
        if vals:
            n = min(len(vals), len(x))
            fig.add_trace(
                go.Scatter(
                    x=list(x)[:n],
                    y=list(vals)[:n],
                    mode="markers",
                    name=label,
                    marker=dict(color=colour, size=6, opacity=0.6),
                )
            )
    fig.update_layout(
        title=f"SHAP value by {feature}",
        xaxis_title=feature,
        yaxis_title="SHAP value",
        height=380,
        margin=dict(l=10, r=10, t=60, b=40),
    )
    return fig


def versions_over_time(
    versions: Sequence[dict[str, Any]], reevaluations: Sequence[dict[str, Any]], metric: str
) -> go.Figure:
    """A registered model's versions: the metric each scored when trained (circles) and when later
    re-evaluated on recent data (diamonds, joined to the version's training point).

    ``versions``: dicts ``version``, ``when``, ``value``, ``is_champion``, ``label``;
    ``reevaluations``: dicts ``version``, ``when``, ``value``, ``eval_window``.
    """
    fig = go.Figure()
    vs = [v for v in versions if _finite(v.get("value")) and v.get("when") is not None]
    fig.add_trace(
        go.Scatter(
            x=[v["when"] for v in vs],
            y=[v["value"] for v in vs],
            mode="markers+text",
            name="at training",
            text=[f"v{v['version']}" + (" (champion)" if v.get("is_champion") else "") for v in vs],
            textposition="top center",
            marker=dict(
                size=[16 if v.get("is_champion") else 11 for v in vs],
                color=[CHAMPION if v.get("is_champion") else CANDIDATE for v in vs],
                line=dict(width=1, color=ink()),
            ),
            hovertext=[v.get("label") or f"v{v['version']}" for v in vs],
        )
    )
    by_version = {str(v["version"]): v for v in vs}
    rs = [r for r in reevaluations if _finite(r.get("value")) and r.get("when") is not None]
    if rs:
        fig.add_trace(
            go.Scatter(
                x=[r["when"] for r in rs],
                y=[r["value"] for r in rs],
                mode="markers+text",
                name="re-evaluated on recent data",
                text=[f"v{r['version']} re-eval" for r in rs],
                textposition="bottom center",
                marker=dict(symbol="diamond", size=12, color="#dc2626"),
                hovertext=[f"v{r['version']} on {r.get('eval_window') or 'recent data'}" for r in rs],
            )
        )
        for r in rs:
            v = by_version.get(str(r["version"]))
            if v:
                fig.add_trace(
                    go.Scatter(
                        x=[v["when"], r["when"]],
                        y=[v["value"], r["value"]],
                        mode="lines",
                        line=dict(color="#dc2626", dash="dot"),
                        showlegend=False,
                        hoverinfo="skip",
                    )
                )
    fig.update_layout(
        title=f"{metric} across registered versions over time",
        xaxis_title="time",
        yaxis_title=metric,
        height=420,
        margin=dict(l=10, r=10, t=60, b=40),
    )
    return fig
