"""Small charts drawn on the server as inline SVG: no script, readable by screen readers.

Each chart is a <figure> with a visible caption and legend around an <svg role="img"> with a
<title> and a <desc> naming what it shows; every bar and point has a <title> with its exact figure,
and the report shows the same figures in a table.

The drawings are laid out in percentages of their width and in pixels of height, not in a scaled
viewBox: they fill a wide screen and a phone alike, and their text keeps its size on both.
"""

from itertools import count

from django.utils.html import escape
from django.utils.safestring import mark_safe

HEIGHT = 230
TOP, BOTTOM = 20, 28  # room above the top line for its label, and below the axis for the times
INK, MUTED, GRID = "#1d2b36", "#5b6b77", "#d9e1e7"
# Colours told apart without colour too: people solid, machines pale or dashed.
SENT_COLOUR, OPEN_COLOUR, CLICK_COLOUR, MACHINE_COLOUR = "#144566", "#1f7a5c", "#b3541e", "#8a96a0"
# A column takes at most this share of the width, so that one hour of sending is not a wall.
MAX_COLUMN_PERCENT = 8
# At most this many time labels under a chart; on a phone, one in two of them.
MAX_TIME_LABELS = 5
# The longest part of a link's address written above its bar (all of it is in its title).
MAX_LINK_LABEL = 44
# Room left of a chart over time for its scale.
GUTTER = "2.25rem"
# On a narrow screen, every other time label is left out so that they do not overlap.
NARROW_STYLE = (
    "<style>@media (max-width: 40rem) { .chart .time-label-minor { display: none; } }</style>"
)
_ids = count(1)


def _ceiling(value):
    """A round top for the axis, at least the largest value, whose half is a whole number too."""
    if value <= 4:
        return 4
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 4, 6, 8, 10):
        if value <= factor * step and (factor * step) % 2 == 0:
            return int(factor * step)
    return int(10 * step)


def _number(value):
    return f"{value:g}" if value != int(value) else str(int(value))


def _open(title, description, height, gutter=False):
    n = next(_ids)
    margin = f"width:calc(100% - {GUTTER});margin-left:{GUTTER};" if gutter else ""
    return [
        '<figure class="chart-figure" style="margin:0 0 1.5rem">',
        f'<figcaption style="font-weight:600;margin-bottom:0.5rem">{escape(title)}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="{height}" role="img" '
        f'aria-labelledby="chart{n}-title chart{n}-desc" class="chart" '
        f'style="display:block;overflow:visible;font-family:inherit;{margin}">',
        f'<title id="chart{n}-title">{escape(title)}</title>',
        f'<desc id="chart{n}-desc">{escape(description)}</desc>',
    ]


def _close(parts, legend):
    """End the drawing and add its legend: (name, colour, style), style solid, dashed, box or pale."""
    parts.append("</svg>")
    parts.append(
        '<ul class="chart-legend" style="display:flex;flex-wrap:wrap;gap:0.25rem 1.25rem;'
        'list-style:none;margin:0.5rem 0 0;padding:0;font-size:0.875rem">'
    )
    for name, colour, style in legend:
        if style == "pale":
            swatch = f"background:{colour};opacity:0.45;height:0.75rem"
        elif style == "box":
            swatch = f"background:{colour};height:0.75rem"
        else:
            swatch = f"border-top:3px {style} {colour};height:0"
        parts.append(
            '<li style="display:flex;align-items:center;gap:0.4rem">'
            f'<span aria-hidden="true" style="display:inline-block;width:1.5rem;{swatch}">'
            f"</span>{escape(name)}</li>"
        )
    parts.append("</ul></figure>")
    return mark_safe("".join(parts))  # every text in it is escaped


def time_chart(title, description, labels, bars, lines):
    """Columns for one series (bars: name, values, colour) and lines for others, over time.

    `lines` is a list of (name, values, colour, dashed).
    """
    parts = _open(title, description, HEIGHT, gutter=True)
    plot_height = HEIGHT - TOP - BOTTOM
    series = ([bars[1]] if bars else []) + [values for _name, values, *_ in lines]
    top_value = _ceiling(max([v for values in series for v in values] or [0]))
    slots = max(len(labels), 1)

    def x_of(index):  # percent of the width
        return (index + 0.5) * 100 / slots

    def y_of(value):  # pixels from the top
        return TOP + plot_height - value / top_value * plot_height

    parts.append(NARROW_STYLE)
    for fraction in (0, 0.5, 1):
        y = y_of(top_value * fraction)
        parts.append(
            f'<line x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
            f'<text x="-6" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{MUTED}">'
            f"{_number(top_value * fraction)}</text>"
        )
    if bars:
        name, values, colour = bars
        width = min(70 / slots, MAX_COLUMN_PERCENT)
        for index, value in enumerate(values):
            y = y_of(value)
            parts.append(
                f'<rect x="{x_of(index) - width / 2:.2f}%" y="{y:.1f}" width="{width:.2f}%" '
                f'height="{TOP + plot_height - y:.1f}" fill="{colour}" fill-opacity="0.35">'
                f"<title>{escape(labels[index])} — {escape(name)} : {value}</title></rect>"
            )
    if lines:
        # The lines are drawn in a box stretched to the width; their strokes keep their thickness.
        parts.append(
            f'<svg x="0" y="{TOP}" width="100%" height="{plot_height}" '
            f'viewBox="0 0 1000 {plot_height}" preserveAspectRatio="none" overflow="visible">'
        )
        for _name, values, colour, dashed in lines:
            points = " ".join(
                f"{x_of(i) * 10:.1f},{y_of(v) - TOP:.1f}" for i, v in enumerate(values)
            )
            dash = ' stroke-dasharray="6 4"' if dashed else ""
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash} '
                'vector-effect="non-scaling-stroke"/>'
            )
        parts.append("</svg>")
    for name, values, colour, _dashed in lines:
        for index, value in enumerate(values):
            if value:
                parts.append(
                    f'<circle cx="{x_of(index):.2f}%" cy="{y_of(value):.1f}" r="4" '
                    f'fill="{colour}"><title>{escape(labels[index])} — {escape(name)} : '
                    f"{value}</title></circle>"
                )
    every = max(1, -(-len(labels) // MAX_TIME_LABELS))
    for index, label in enumerate(labels):
        if index % every == 0:
            x = x_of(index)
            anchor = "end" if x > 90 and len(labels) > 1 else "middle"
            minor = ' class="time-label-minor"' if (index // every) % 2 else ""
            parts.append(
                f'<text x="{x:.2f}%" y="{HEIGHT - 8}" text-anchor="{anchor}" font-size="11" '
                f'fill="{MUTED}"{minor}>{escape(label)}</text>'
            )
    legend = [(bars[0], bars[2], "pale")] if bars else []
    legend += [
        (name, colour, "dashed" if dashed else "solid") for name, _v, colour, dashed in lines
    ]
    return _close(parts, legend)


def bar_list(title, description, rows, people_label, machines_label):
    """Horizontal bars, one per row (label, people, machines), each under its label: people solid,
    machines after, paler; the figures at the end of the bar."""
    row_height = 46
    height = row_height * max(len(rows), 1)
    parts = _open(title, description, height)
    top_value = max([people + machines for _label, people, machines in rows] or [0]) or 1
    room = 80  # percent of the width for the longest bar; the figures go after it
    for index, (label, people, machines) in enumerate(rows):
        y = index * row_height
        shown = label.removeprefix("https://").removeprefix("http://")
        if len(shown) > MAX_LINK_LABEL:
            shown = shown[: MAX_LINK_LABEL - 1] + "…"
        people_width = people / top_value * room
        machines_width = machines / top_value * room
        figures = str(people) + (f" (+{machines})" if machines else "")
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="13" fill="{INK}">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
            f'<rect x="0" y="{y + 22}" width="{people_width:.2f}%" height="16" '
            f'fill="{CLICK_COLOUR}"><title>{escape(people_label)} : {people}</title></rect>'
            f'<rect x="{people_width:.2f}%" y="{y + 22}" width="{machines_width:.2f}%" '
            f'height="16" fill="{MACHINE_COLOUR}" fill-opacity="0.5">'
            f"<title>{escape(machines_label)} : {machines}</title></rect>"
            f'<text x="{people_width + machines_width:.2f}%" dx="6" y="{y + 35}" font-size="13" '
            f'fill="{INK}">{figures}</text>'
        )
    return _close(
        parts, [(people_label, CLICK_COLOUR, "box"), (machines_label, MACHINE_COLOUR, "pale")]
    )
