"""Timeline figures for the report, drawn with matplotlib's Agg canvas as PNG data URIs.

Why PNG data URIs: the report is one file that must open anywhere (a laptop, a ticket
attachment, an air-gapped cluster) with no JavaScript and no network, so every figure
travels inside the page.

Why the Agg canvas is attached explicitly instead of using ``pyplot``: the report runs in
cron jobs and CI with no display; pyplot would pick a backend from the environment and
keep global figure state between reports.

Why a missing series is drawn as a grey "no data" panel and never as an empty axis: an
empty axis reads as "flat, healthy", which is the exact mistake the seed post-mortems made
("IO, load and message metrics: blank").
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory

__all__ = ["Plot", "Span", "cause_chart", "draw_timeline", "failure_heatmap",
           "timeline_figure"]

MAX_SERVICES = 8  # one colour each; the rest are drawn grey as "other"
MAX_ENTITIES = 4  # lines per signal panel, highest peaks first
DPI = 110
WIDTH_IN = 11.0

# Service colours: tab10 without its red and orange, which mark timeouts and errors.
_PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
            "#7f7f7f")
_TIMEOUT = "#d62728"
_ERROR = "#f08c00"
_SHADE = "#f59f00"


@dataclass(frozen=True)
class Span:
    """An incident window to shade; ``label`` is its short number in the page."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass
class Plot:
    """A rendered figure, or ``uri=None`` when there was nothing to place on a time axis."""

    uri: str | None
    alt: str
    no_data: list[str] = field(default_factory=list)  # panels drawn as "no data"


def timeline_figure(
    requests: pd.DataFrame | None,
    signals: Mapping[str, pd.DataFrame | None],
    names: Sequence[str],
    spans: Sequence[Span],
    t0: pd.Timestamp,
    t1: pd.Timestamp,
    zone: tzinfo,
    zone_name: str,
    compact: bool = False,
    lines: Mapping[str, float] | None = None,
) -> Plot:
    """Request latency on top, one panel per signal in ``names`` below, one time axis.

    ``t0``/``t1`` are UTC; tick labels are in ``zone``. Incident ``spans`` are shaded on
    every panel so a reader can see what each signal did during each incident. ``compact``
    is for the per-incident zooms, which sit under the text they illustrate. ``lines``
    (signal -> value) are the thresholds the top causes judged each signal by, drawn dashed.
    """
    lines = dict(lines or {})
    fig, no_data = draw_timeline(requests, signals, names, spans, t0, t1, zone, zone_name,
                                 compact, lines)
    panels = [("request latency", "requests"), *((n, n) for n in names)]
    alt = "Timeline: " + ", ".join(
        f"{title} (no data)" if key in no_data
        else f"{title} (threshold {lines[key]:g} drawn)" if key in lines else title
        for title, key in panels)
    return Plot(_to_uri(fig), alt, no_data)


def draw_timeline(requests: pd.DataFrame | None, signals: Mapping[str, pd.DataFrame | None],
                  names: Sequence[str], spans: Sequence[Span], t0: pd.Timestamp,
                  t1: pd.Timestamp, zone: tzinfo, zone_name: str,
                  compact: bool = False,
                  lines: Mapping[str, float] | None = None) -> tuple[Figure, list[str]]:
    """The figure of ``timeline_figure`` and the panels drawn as "no data": the report
    embeds it, the Python API (``rca.open(...).incident(id).plot()``) hands it back, so
    the notebook and the page draw one incident the same way."""
    top_in, signal_in = (2.0, 0.9) if compact else (2.8, 1.2)
    heights = [top_in] + [signal_in] * len(names)
    fig = Figure(figsize=(WIDTH_IN, 1.0 + sum(heights)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(heights), 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    no_data: list[str] = []
    if not _draw_requests(axes[0], requests, t0, t1, 18 if compact else 9):
        no_data.append("requests")
    for ax, name in zip(axes[1:], names, strict=True):
        if not _draw_signal(ax, name, signals.get(name), t0, t1, (lines or {}).get(name)):
            no_data.append(name)
    for ax in axes:
        _shade(ax, spans, t0, t1, label=ax is axes[0])
        ax.grid(True, color="#dee2e6", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    locator = mdates.AutoDateLocator(tz=zone, minticks=5, maxticks=14)
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    axes[-1].set_xlim(_num(t0), _num(t1))
    axes[-1].set_xlabel(_txt(f"local time ({zone_name})"), fontsize=8.5)
    return fig, no_data


def _draw_requests(ax, req: pd.DataFrame | None, t0, t1, size: float) -> bool:
    """Latency scatter, one colour per service, failures ringed. Colours are ranked on the
    whole frame, not the slice, so a service keeps its colour in the day plot and zooms."""
    ax.set_title("request latency by service (s)", loc="left", fontsize=9, pad=14)
    if req is None or req.empty or "latency_s" not in req:
        return _no_data(ax, "no request logs")
    if "side" in req and (req["side"] == "client").any():
        req = req[req["side"] == "client"]
        ax.set_title("client request latency by service (s)", loc="left", fontsize=9, pad=14)
    ranked = _column(req, "service").value_counts().index[:MAX_SERVICES]
    colours = dict(zip(ranked, _PALETTE, strict=False))  # ranked: at most MAX_SERVICES
    req = req[(req.index >= t0) & (req.index <= t1)]
    if req.empty:
        return _no_data(ax, "no requests in this time range")
    x = _num(req.index)
    y = pd.to_numeric(req["latency_s"], errors="coerce").to_numpy(dtype=float)
    services = _column(req, "service")
    for svc in ranked:  # the same legend order in every figure
        mask = (services == svc).to_numpy()
        if not mask.any():
            continue
        ax.scatter(x[mask], y[mask], s=size, color=colours[svc], alpha=0.75, linewidths=0,
                   label=_txt(svc or "(unnamed)"))
    rest = (~services.isin(ranked)).to_numpy()
    if rest.any():
        n_rest = services[rest].nunique()
        ax.scatter(x[rest], y[rest], s=size, color="#adb5bd", alpha=0.6, linewidths=0,
                   label=f"other ({n_rest} services)")
    kinds = _column(req, "status").map(_failure_kind).to_numpy()
    for kind, colour in (("timeout", _TIMEOUT), ("error", _ERROR)):
        mask = kinds == kind
        if not mask.any():
            continue
        ax.scatter(x[mask], y[mask], s=48, facecolors="none", edgecolors=colour,
                   linewidths=1.4, label=f"{kind} ({int(mask.sum())})", zorder=3)
        blind = mask & np.isnan(y)  # a failure without a latency still marks its time
        top = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(x[blind], np.full(blind.sum(), 0.97), "v", color=colour, transform=top)
    finite = y[np.isfinite(y) & (y > 0)]
    if finite.size and finite.max() / finite.min() > 20:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    elif finite.size:
        ax.set_ylim(bottom=0)  # 0.3 to 0.6 s must not look like a wild swing
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5, frameon=False,
              markerscale=1.3, handletextpad=0.3)
    return True


def _draw_signal(ax, name: str, df: pd.DataFrame | None, t0, t1,
                 line: float | None = None) -> bool:
    ax.set_title(_txt(name), loc="left", fontsize=8.5, pad=3, color="#343a40")
    if df is None or df.empty or "value" not in df:
        return _no_data(ax, "not collected")
    df = df[(df.index >= t0) & (df.index <= t1)]
    values = pd.to_numeric(df["value"], errors="coerce")
    if df.empty or values.isna().all():
        return _no_data(ax, "no samples in this time range")
    entities = _column(df, "entity")
    peaks = values.groupby(entities.to_numpy()).max().sort_values(ascending=False)
    for colour, ent in zip(_PALETTE, peaks.index[:MAX_ENTITIES], strict=False):
        mask = (entities == ent).to_numpy()
        part = values[mask].sort_index()
        ax.plot(_num(part.index), part.to_numpy(dtype=float), color=colour, linewidth=1.2,
                marker="." if len(part) < 60 else None, markersize=4,
                label=_txt(ent or "(no entity)"))
    if line is not None:
        ax.axhline(line, color=_TIMEOUT, linestyle="--", linewidth=1.0,
                   label=_txt(f"threshold {line:g}"))
    if values.min() >= 0:
        ax.set_ylim(bottom=0)  # a rate or a latency read from zero, not magnified noise
    title = f"top {MAX_ENTITIES} of {len(peaks)}" if len(peaks) > MAX_ENTITIES else None
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False,
              title=title, title_fontsize=7)
    return True


def _no_data(ax, why: str) -> bool:
    ax.set_facecolor("#f1f3f5")
    ax.text(0.5, 0.5, f"no data: {why}", transform=ax.transAxes, ha="center", va="center",
            color="#868e96", fontsize=10, style="italic")
    ax.set_yticks([])
    return False


def _shade(ax, spans: Sequence[Span], t0, t1, label: bool) -> None:
    """Shade each incident; very short ones get a minimum width so they stay visible."""
    min_width = (t1 - t0) * 0.004
    top = blended_transform_factory(ax.transData, ax.transAxes)
    last_label, raised = None, False
    for span in sorted(spans, key=lambda s: s.start):
        if span.end < t0 or span.start > t1:
            continue
        start, end = span.start, span.end
        if end - start < min_width:
            mid = start + (end - start) / 2
            start, end = mid - min_width / 2, mid + min_width / 2
        ax.axvspan(_num(start), _num(end), color=_SHADE, alpha=0.22, linewidth=0, zorder=0)
        if label:  # neighbours closer than 2 % of the axis alternate height, not overlap
            mid = start + (end - start) / 2
            raised = not raised and last_label is not None and mid - last_label < (t1 - t0) / 50
            last_label = mid
            ax.text(_num(mid), 1.07 if raised else 1.01, _txt(span.label), transform=top,
                    ha="center", va="bottom", fontsize=7.5, fontweight="bold",
                    color="#a35200", clip_on=False)


def _failure_kind(status: str) -> str:
    """``timeout`` / ``error`` (including HTTP 4xx/5xx) / ``''`` for a success."""
    s = status.strip().lower()
    if s == "timeout":
        return "timeout"
    if s == "error" or (s.isdigit() and int(s) >= 400):
        return "error"
    return ""


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df:
        return pd.Series("", index=df.index)
    return df[name].fillna("").astype(str)


def _num(t):
    """Matplotlib date numbers (days, UTC) for a timestamp or a DatetimeIndex."""
    if isinstance(t, pd.DatetimeIndex):
        return mdates.date2num(t.tz_convert("UTC").tz_localize(None).to_numpy())
    return mdates.date2num(pd.Timestamp(t).tz_convert("UTC").tz_localize(None).to_datetime64())


def _txt(text: object) -> str:
    """Input text as matplotlib shows it literally: ``$`` would start mathtext, and a
    legend label starting with ``_`` would be silently dropped."""
    s = str(text).replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def _to_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


MAX_BARS = 24  # bars per cause chart (nodes, backends); the rest are named in the alt text


def cause_chart(chart: Mapping, span: Span | None, zone: tzinfo, zone_name: str
                ) -> Plot | None:
    """A cause's own figure (``Finding.chart`` as the JSON carries it): the values it judged
    against the edge it judged them by (dashed), over time with the incident shaded, or as
    bars per node / backend. ``None`` when it holds nothing to draw."""
    series = {str(k): v for k, v in (chart.get("series") or {}).items() if v}
    bars = {str(g): v for g, v in (chart.get("bars") or {}).items() if v}
    if not series and not bars:
        return None
    title, unit = str(chart.get("title") or ""), str(chart.get("unit") or "")
    line = chart.get("line")
    line = float(line) if isinstance(line, int | float) and line == line else None
    line_label = str(chart.get("line_label") or (f"threshold {line:g}" if line is not None
                                                  else ""))
    fig = Figure(figsize=(WIDTH_IN * 0.75, 2.6 if series else 1.2 + 0.28 * _bar_rows(bars)),
                 layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_title(_txt(title), loc="left", fontsize=9)
    if series:
        _chart_series(ax, series, chart.get("marks") or [], span, line, line_label, zone,
                      zone_name)
    else:
        _chart_bars(ax, bars, line, line_label)
    if unit:
        (ax.set_ylabel if series else ax.set_xlabel)(_txt(unit), fontsize=8.5)
    ax.grid(True, color="#dee2e6", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5, frameon=False)
    what = ", ".join([*series, *bars])
    alt = f"{title}: {what}" + (f"; {line_label} drawn" if line is not None else "")
    return Plot(_to_uri(fig), alt)


def _bar_rows(bars: Mapping) -> int:
    return min(MAX_BARS, len({k for vals in bars.values() for k in vals}))


def _chart_series(ax, series: Mapping, marks: Sequence, span: Span | None,
                  line: float | None, line_label: str, zone: tzinfo, zone_name: str) -> None:
    times = []
    for colour, (label, points) in zip(_PALETTE, series.items(), strict=False):
        t = pd.DatetimeIndex([pd.Timestamp(p[0]) for p in points]).tz_convert("UTC")
        v = np.array([float(p[1]) for p in points], dtype=float)
        times += [t.min(), t.max()]
        ax.plot(_num(t), v, color=colour, linewidth=1.2, marker="." if len(v) < 60 else None,
                markersize=4, label=_txt(label))
    instants = [pd.Timestamp(m[0]).tz_convert("UTC") for m in marks]
    for i, at in enumerate(instants):
        ax.axvline(_num(at), color="#495057", linewidth=0.8, linestyle=":",
                   label=_txt(f"{marks[0][1]} ({len(instants)})") if i == 0 else None)
    times += instants
    if span is not None:
        times += [span.start, span.end]
        _shade(ax, [span], min(times), max(times), label=False)
    if line is not None:
        ax.axhline(line, color=_TIMEOUT, linestyle="--", linewidth=1.0, label=_txt(line_label))
    ax.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(tz=zone, minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    ax.set_xlabel(_txt(f"local time ({zone_name})"), fontsize=8.5)


def _chart_bars(ax, bars: Mapping, line: float | None, line_label: str) -> None:
    labels = list(dict.fromkeys(str(k) for vals in bars.values() for k in vals))[:MAX_BARS]
    height = 0.8 / len(bars)
    y = np.arange(len(labels))
    for i, (colour, (group, vals)) in enumerate(zip(_PALETTE, bars.items(), strict=False)):
        values = [float(vals.get(k, 0.0)) for k in labels]
        ax.barh(y + i * height, values, height=height, color=colour, label=_txt(group))
    ax.set_yticks(y + height * (len(bars) - 1) / 2, [_txt(k) for k in labels], fontsize=8)
    ax.invert_yaxis()
    if line is not None:
        ax.axvline(line, color=_TIMEOUT, linestyle="--", linewidth=1.0, label=_txt(line_label))


#: Failure statuses as the caller saw them (client side) for the heatmap.
_FAILED = ("timeout", "error")
HEATMAP_ROWS = 30  # stations shown; the rest summed into "other"


def failure_heatmap(requests: pd.DataFrame | None, spans: Sequence[Span], t0: pd.Timestamp,
                    t1: pd.Timestamp, zone: tzinfo, zone_name: str) -> Plot | None:
    """Stations x time, coloured by failed requests per bin: the operator's alarm chart.
    Client-side failures when station logs exist, else the server's view by client.
    ``None`` when nothing failed (an empty heatmap would read as a chart of health)."""
    failed = _failed_by_caller(requests)
    if failed is None or failed.empty:
        return None
    bins = pd.date_range(t0, t1, periods=min(289, max(2, int((t1 - t0) / pd.Timedelta(
        minutes=5)) + 1)))
    counts = failed.groupby([failed["station"], pd.cut(failed.index, bins)],
                            observed=False).size().unstack(fill_value=0)
    order = counts.sum(axis=1).sort_values(ascending=False).index
    counts = counts.loc[order]
    if len(counts) > HEATMAP_ROWS:
        rest = counts.iloc[HEATMAP_ROWS - 1:].sum().rename("other")
        counts = pd.concat([counts.iloc[:HEATMAP_ROWS - 1], rest.to_frame().T])
    fig = Figure(figsize=(WIDTH_IN, 1.2 + 0.28 * len(counts)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    edges = _num(bins)
    mesh = ax.pcolormesh(edges, np.arange(len(counts) + 1), counts.to_numpy(), cmap="Reds",
                         vmin=0, shading="flat")
    fig.colorbar(mesh, ax=ax, label="failed requests per bin", pad=0.01)
    ax.set_yticks(np.arange(len(counts)) + 0.5, [_txt(s) or "(unknown)" for s in counts.index],
                  fontsize=8)
    ax.invert_yaxis()
    for span in spans:
        if span.end >= t0 and span.start <= t1:
            ax.axvline(_num(span.start), color="#495057", linewidth=0.6, linestyle=":")
    locator = mdates.AutoDateLocator(tz=zone, minticks=5, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    ax.set_xlim(_num(t0), _num(t1))
    ax.set_xlabel(_txt(f"local time ({zone_name})"), fontsize=8.5)
    ax.set_title("failed requests by station and time", loc="left", fontsize=9)
    alt = (f"Heatmap of failed requests: {len(counts)} station(s), "
           f"{int(counts.to_numpy().sum())} failure(s)")
    return Plot(_to_uri(fig), alt)


def _failed_by_caller(req: pd.DataFrame | None) -> pd.DataFrame | None:
    if req is None or req.empty or not {"status", "side", "station"} <= set(req.columns):
        return None
    code = pd.to_numeric(req["status"], errors="coerce")
    bad = req["status"].str.lower().isin(_FAILED) | (code >= 500) | (code == 499)
    client = req[(req["side"] == "client") & bad]
    return client if not client.empty else req[(req["side"] == "server") & bad]
