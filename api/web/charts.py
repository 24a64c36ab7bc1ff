"""The reports page's charts: each figure's table drawn by matplotlib as SVG, on the server.

matplotlib's object API (no pyplot, so no global figure state) with its SVG backend; ``svg.fonttype: none``
keeps the labels as text (searchable, selectable, sharp at any zoom) and the SVG has no script. One chart is
drawn at a time (``CHARTS_AT_ONCE``): drawing is CPU work that would otherwise hold up the other requests.
"""

import asyncio
import io
import threading

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure as Canvas
from matplotlib.ticker import MaxNLocator

from client.stats import Cell, Figure

# Labels stay text; the SVG's ids are the same for the same chart, so a page does not change without reason.
mpl.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "capaflow", "font.size": 10})

Rows = list[list[Cell]]
CHARTS_AT_ONCE = 2
_charts = asyncio.Semaphore(CHARTS_AT_ONCE)
# matplotlib's font and text caches are shared by every figure: one drawing at a time in the process.
_drawing = threading.Lock()

# The product's palette (api/static/capaflow.css): the accent, then a muted second series.
FIRST, SECOND, LINE = "#1f5fa8", "#9bb8d9", "#b3261e"
WIDTH, HEIGHT = 6.4, 3.4
# The most bars one chart shows (a Pareto of many products, everyone's open work); the table lists them all.
MOST_BARS = 15


async def chart_svg(table: Figure) -> bytes:
    """The figure's chart as SVG bytes, drawn in a worker thread."""
    async with _charts:
        return await asyncio.to_thread(draw, table)


def draw(table: Figure) -> bytes:
    """The chart of ``table`` (its rows as ``client.stats.figure`` lays them out)."""
    canvas = Canvas(figsize=(WIDTH, HEIGHT), layout="constrained")
    axes = canvas.add_subplot()
    rows = table.rows[:MOST_BARS]
    if not rows:
        axes.text(0.5, 0.5, "nothing in the period", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    elif table.name == "opened-closed":
        _paired_columns(axes, rows, ("Opened", "Closed"))
    elif table.name == "cycle-time":
        _paired_bars(axes, rows, (2, 3), ("Median", "90th percentile"), "days")
    elif table.name == "rates":
        _rates(axes, rows)
    elif table.name == "ages":
        _ages(axes, rows)
    elif table.name == "ageing":
        axes.bar([str(r[0]) for r in rows], [_number(r[1]) for r in rows], color=LINE)
        axes.set_ylabel("deadlines")
    elif table.name.startswith("pareto-"):
        _pareto(axes, rows)
    else:
        _open_work(axes, rows)
    # The page heads each chart with its title; a chart opened alone is named by its file.
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    out = io.BytesIO()
    with _drawing:
        canvas.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _ages(axes: Axes, rows: Rows) -> None:
    """The overdue board's open records by age: one bar per age, its count at its end, the old ones in red."""
    counts = [_number(r[1]) for r in rows]
    places = range(len(rows))
    axes.barh(list(places), counts, color=[FIRST if place < 2 else LINE for place in places])
    axes.set_yticks(list(places), [str(r[0]) for r in rows])
    axes.invert_yaxis()
    axes.set_xlim(0, max([*counts, 1]) * 1.15)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for place, count in zip(places, counts, strict=True):
        axes.text(count, place, f" {count:g}", va="center")
    axes.set_xlabel("open records")


def _legend_above(axes: Axes) -> None:
    """The legend in a row above the plot, where no bar can be under it."""
    axes.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1), ncols=2, borderaxespad=0.2)


def _number(cell: Cell) -> float:
    return float(cell) if isinstance(cell, int | float) else 0.0


def _paired_columns(axes: Axes, rows: Rows, labels: tuple[str, str]) -> None:
    places = range(len(rows))
    axes.bar([p - 0.2 for p in places], [_number(r[1]) for r in rows], width=0.4, color=FIRST, label=labels[0])
    axes.bar([p + 0.2 for p in places], [_number(r[2]) for r in rows], width=0.4, color=SECOND, label=labels[1])
    axes.set_xticks(list(places), [str(r[0]) for r in rows], rotation=45 if len(rows) > 6 else 0, ha="right")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_above(axes)


def _paired_bars(axes: Axes, rows: Rows, columns: tuple[int, int], labels: tuple[str, str], unit: str) -> None:
    places = range(len(rows))
    first, second = columns
    axes.barh([p - 0.2 for p in places], [_number(r[first]) for r in rows], height=0.4, color=FIRST, label=labels[0])
    axes.barh([p + 0.2 for p in places], [_number(r[second]) for r in rows], height=0.4, color=SECOND, label=labels[1])
    axes.set_yticks(list(places), [str(r[0]) for r in rows])
    axes.invert_yaxis()
    # Days start at zero, and a period of nothing but zeros still has a readable scale.
    axes.set_xlim(0, max([_number(r[column]) for r in rows for column in columns] + [0]) * 1.05 or 1)
    axes.set_xlabel(unit)
    _legend_above(axes)


def _rates(axes: Axes, rows: Rows) -> None:
    shares = [_number(r[3]) for r in rows]
    axes.barh([str(r[0]) for r in rows], shares, color=FIRST)
    # Room right of a full bar for its label.
    axes.set_xlim(0, 125)
    axes.set_xticks([0, 25, 50, 75, 100])
    axes.set_xlabel("%")
    axes.invert_yaxis()
    for place, (row, share) in enumerate(zip(rows, shares, strict=True)):
        shown = "-" if row[3] is None else f"{share:g} % of {row[2]}"
        axes.text(min(share, 100) + 1, place, shown, va="center", fontsize=8)


def _pareto(axes: Axes, rows: Rows) -> None:
    names = [str(r[0]) for r in rows]
    axes.bar(names, [_number(r[1]) for r in rows], color=FIRST)
    axes.set_ylabel("records")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(rows) > 3:
        # Slanted names end under their bar, so long ones do not run into their neighbours.
        axes.tick_params(axis="x", labelrotation=30)
        for name in axes.get_xticklabels():
            name.set_horizontalalignment("right")
    cumulative = axes.twinx()
    cumulative.plot(names, [_number(r[2]) for r in rows], color=LINE, marker="o")
    cumulative.set_ylim(0, 105)
    cumulative.set_ylabel("cumulative %")
    cumulative.spines["top"].set_visible(False)


def _open_work(axes: Axes, rows: Rows) -> None:
    people = [str(r[0]) for r in rows]
    steps = [_number(r[1]) for r in rows]
    axes.barh(people, steps, color=FIRST, label="Stage steps")
    axes.barh(people, [_number(r[2]) for r in rows], left=steps, color=SECOND, label="Actions")
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_above(axes)
