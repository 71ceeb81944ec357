"""Small charts drawn on the server as inline SVG: no script, readable by screen readers.

Each chart is an <svg role="img"> with a <title> and a <desc> naming what it shows; every bar and
point has a <title> with its exact figure, and the report shows the same figures in a table.
"""

from itertools import count

from django.utils.html import escape
from django.utils.safestring import mark_safe

WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 34
INK, MUTED, GRID = "#1d2b36", "#5b6b77", "#d9e1e7"
# Colours told apart without colour too: people solid, machines hatched or dashed.
SENT_COLOUR, OPEN_COLOUR, CLICK_COLOUR, MACHINE_COLOUR = "#144566", "#1f7a5c", "#b3541e", "#8a96a0"
_ids = count(1)


def _ceiling(value):
    """A round top for the axis, at least the largest value."""
    if value <= 5:
        return 5
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return int(factor * step)
    return int(10 * step)


def _open(title, description, height=HEIGHT):
    n = next(_ids)
    return n, [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="chart{n}-title chart{n}-desc" class="chart" '
        'style="width:100%;height:auto;max-width:60rem;font-family:inherit">',
        f'<title id="chart{n}-title">{escape(title)}</title>',
        f'<desc id="chart{n}-desc">{escape(description)}</desc>',
    ]


def _axis(parts, top_value, plot_height):
    for fraction in (0, 0.5, 1):
        y = TOP + plot_height - fraction * plot_height
        value = top_value * fraction
        label = f"{value:g}" if value != int(value) else str(int(value))
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{label}</text>'
        )


def _x_labels(parts, labels, x_of):
    every = max(1, -(-len(labels) // 8))
    for index, label in enumerate(labels):
        if index % every == 0:
            parts.append(
                f'<text x="{x_of(index):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{escape(label)}</text>'
            )


def time_chart(title, description, labels, bars, lines):
    """Columns for one series (bars: name, values, colour) and lines for others, over time.

    `lines` is a list of (name, values, colour, dashed).
    """
    _n, parts = _open(title, description)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    series = ([bars[1]] if bars else []) + [values for _name, values, *_ in lines]
    top_value = _ceiling(max([v for values in series for v in values] or [0]))
    slot = plot_width / max(len(labels), 1)

    def x_of(index):
        return LEFT + slot * (index + 0.5)

    def y_of(value):
        return TOP + plot_height - value / top_value * plot_height

    _axis(parts, top_value, plot_height)
    if bars:
        name, values, colour = bars
        width = max(slot * 0.7, 1)
        for index, value in enumerate(values):
            y = y_of(value)
            parts.append(
                f'<rect x="{x_of(index) - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{TOP + plot_height - y:.1f}" fill="{colour}" fill-opacity="0.35">'
                f"<title>{escape(labels[index])} — {escape(name)} : {value}</title></rect>"
            )
    for name, values, colour, dashed in lines:
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        for index, value in enumerate(values):
            if value:
                parts.append(
                    f'<circle cx="{x_of(index):.1f}" cy="{y_of(value):.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(labels[index])} — {escape(name)} : {value}</title></circle>"
                )
    _x_labels(parts, labels, x_of)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text in it is escaped above


def bar_list(title, description, rows, people_label, machines_label):
    """Horizontal bars, one per row (label, people, machines): people solid, machines after, paler."""
    row_height = 34
    height = TOP + row_height * max(len(rows), 1) + 8
    _n, parts = _open(title, description, height)
    label_width = 300
    plot_width = WIDTH - label_width - RIGHT - 60
    top_value = max([people + machines for _label, people, machines in rows] or [0]) or 1
    for index, (label, people, machines) in enumerate(rows):
        y = TOP + index * row_height
        shown = label if len(label) <= 48 else label[:47] + "…"
        people_width = people / top_value * plot_width
        machines_width = machines / top_value * plot_width
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" font-size="12" '
            f'fill="{INK}"><title>{escape(label)}</title>{escape(shown)}</text>'
            f'<rect x="{label_width}" y="{y + 5}" width="{people_width:.1f}" height="18" '
            f'fill="{CLICK_COLOUR}"><title>{escape(people_label)} : {people}</title></rect>'
            f'<rect x="{label_width + people_width:.1f}" y="{y + 5}" width="{machines_width:.1f}" '
            f'height="18" fill="{MACHINE_COLOUR}" fill-opacity="0.5">'
            f"<title>{escape(machines_label)} : {machines}</title></rect>"
            f'<text x="{label_width + people_width + machines_width + 6:.1f}" y="{y + 18}" '
            f'font-size="12" fill="{INK}">{people}'
            + (f" (+{machines})" if machines else "")
            + "</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text in it is escaped above
