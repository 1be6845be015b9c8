"""Recap charts drawn once with ReportLab graphics, for the PDF and as SVG."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape

import reportlab
from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from .stats import UNFILLED_LABEL, RecapStatistics

logger = logging.getLogger(__name__)

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
VERA_DIR = Path(reportlab.__file__).resolve().parent / "fonts"

# Width of the A4 text frame (21 cm minus two 2 cm margins), in points.
CHART_WIDTH = 482.0
# Bars beyond this many are summed into one "Lainnya" bar so the chart stays
# readable when a month has a long tail of categories or units.
MAX_BARS = 12
NO_DATA_TEXT = "Tidak ada data untuk periode ini"
OTHERS_LABEL = "Lainnya"

PALETTE = tuple(
    colors.HexColor(code)
    for code in (
        "#1f4e79",
        "#2e75b6",
        "#c55a11",
        "#548235",
        "#7030a0",
        "#bf9000",
        "#9dc3e6",
        "#f4b183",
        "#a9d18e",
        "#c9a0dc",
        "#ffd966",
        "#a6a6a6",
    )
)
BAR_COLOR = PALETTE[0]
GRID_COLOR = colors.HexColor("#d9d9d9")
TEXT_COLOR = colors.HexColor("#262626")


class FontNames(NamedTuple):
    """Registered ReportLab names of the regular and bold text fonts."""

    regular: str
    bold: str
    css_family: str


@functools.cache
def register_fonts() -> FontNames:
    """Register the TrueType text fonts with ReportLab once and return their names."""
    candidates = (
        (
            DEJAVU_DIR / "DejaVuSans.ttf",
            DEJAVU_DIR / "DejaVuSans-Bold.ttf",
            ("DejaVuSans", "DejaVuSans-Bold"),
            "'DejaVu Sans', Verdana, Arial, sans-serif",
        ),
        (
            VERA_DIR / "Vera.ttf",
            VERA_DIR / "VeraBd.ttf",
            ("Vera", "VeraBd"),
            "'Bitstream Vera Sans', 'DejaVu Sans', Verdana, Arial, sans-serif",
        ),
    )
    for regular_path, bold_path, (regular, bold), css_family in candidates:
        if not (regular_path.is_file() and bold_path.is_file()):
            logger.warning(
                "Font files %s and %s not found; trying the next font.",
                regular_path,
                bold_path,
            )
            continue
        pdfmetrics.registerFont(TTFont(regular, str(regular_path)))
        pdfmetrics.registerFont(TTFont(bold, str(bold_path)))
        # Paragraph markup such as <b> looks fonts up by family.
        pdfmetrics.registerFontFamily(
            regular, normal=regular, bold=bold, italic=regular, boldItalic=bold
        )
        return FontNames(regular, bold, css_family)
    raise RuntimeError(
        f"No TrueType font found in {DEJAVU_DIR} or {VERA_DIR}; install the "
        "Debian package fonts-dejavu-core."
    )


def shorten(text: str, max_width: float, font_name: str, font_size: float) -> str:
    """Cut text to fit max_width points, ending it with an ellipsis when cut."""
    text = " ".join(str(text).split())
    if pdfmetrics.stringWidth(text, font_name, font_size) <= max_width:
        return text

    # Binary search for the longest prefix that still fits with the ellipsis.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        candidate = text[:middle].rstrip() + "…"
        if pdfmetrics.stringWidth(candidate, font_name, font_size) <= max_width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


def format_number(value: float) -> str:
    """Format an integer count with Indonesian thousands separators."""
    return f"{round(value):,}".replace(",", ".")


def format_percent(part: int, whole: int) -> str:
    """Format part/whole as an Indonesian percentage such as ``59,9%``."""
    return format_share(part / whole if whole > 0 else 0.0)


def format_share(fraction: float) -> str:
    """Format a 0..1 fraction as an Indonesian percentage such as ``59,9%``."""
    return f"{100 * fraction:.1f}%".replace(".", ",")


def _nice_axis(max_value: int) -> tuple[int, int]:
    """Return (axis maximum, step) with whole-number ticks, about five of them."""
    if max_value <= 0:
        return 1, 1
    raw_step = max_value / 5
    magnitude = 10 ** math.floor(math.log10(raw_step)) if raw_step >= 1 else 1
    step = magnitude
    for factor in (1, 2, 5, 10):
        step = max(1, int(factor * magnitude))
        if step >= raw_step:
            break
    return step * math.ceil(max_value / step), step


def _limit_items(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Keep the largest MAX_BARS - 1 items and sum the rest into one item."""
    ranked = sorted(items, key=lambda item: (-item[1], str(item[0])))
    if len(ranked) <= MAX_BARS:
        return ranked
    kept = ranked[: MAX_BARS - 1]
    rest = ranked[MAX_BARS - 1 :]
    kept.append((f"{OTHERS_LABEL} ({len(rest)})", sum(count for _, count in rest)))
    return kept


def _no_data_drawing(height: float = 60) -> Drawing:
    fonts = register_fonts()
    drawing = Drawing(CHART_WIDTH, height)
    drawing.add(
        String(
            CHART_WIDTH / 2,
            height / 2 - 4,
            NO_DATA_TEXT,
            fontName=fonts.regular,
            fontSize=9,
            fillColor=colors.HexColor("#7f7f7f"),
            textAnchor="middle",
        )
    )
    return drawing


def _style_value_axis(axis, max_value: int, font_name: str) -> None:
    # Leave headroom above the largest bar for its value label.
    axis_max, step = _nice_axis(math.ceil(max_value * 1.08))
    axis.valueMin = 0
    axis.valueMax = axis_max
    axis.valueStep = step
    axis.labels.fontName = font_name
    axis.labels.fontSize = 7
    axis.labels.fillColor = TEXT_COLOR
    axis.labelTextFormat = format_number
    axis.visibleGrid = True
    axis.gridStrokeColor = GRID_COLOR
    axis.gridStrokeWidth = 0.5
    axis.strokeColor = colors.HexColor("#7f7f7f")
    axis.strokeWidth = 0.5


def chart_per_day(stats: RecapStatistics) -> Drawing:
    """Draw a vertical bar chart of complaints received on each day of the month."""
    fonts = register_fonts()
    counts = [count for _, count in stats.per_day]
    if not counts:
        return _no_data_drawing()

    drawing = Drawing(CHART_WIDTH, 185)
    chart = VerticalBarChart()
    chart.x, chart.y = 34, 32
    chart.width, chart.height = CHART_WIDTH - 44, 140
    chart.data = [counts]
    chart.bars[0].fillColor = BAR_COLOR
    chart.bars[0].strokeColor = None
    chart.barSpacing = 1
    chart.groupSpacing = 2
    chart.barLabelFormat = format_number
    chart.barLabels.fontName = fonts.regular
    chart.barLabels.fontSize = 5.5
    chart.barLabels.nudge = 5
    chart.categoryAxis.categoryNames = [str(day.day) for day, _ in stats.per_day]
    chart.categoryAxis.labels.fontName = fonts.regular
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.dy = -2
    chart.categoryAxis.strokeWidth = 0.5
    _style_value_axis(chart.valueAxis, max(counts), fonts.regular)
    drawing.add(chart)
    drawing.add(
        String(
            chart.x + chart.width / 2,
            6,
            f"Tanggal ({stats.period.label()})",
            fontName=fonts.regular,
            fontSize=7.5,
            fillColor=TEXT_COLOR,
            textAnchor="middle",
        )
    )
    return drawing


def _horizontal_bars(items: list[tuple[str, int]]) -> Drawing:
    """Draw labelled horizontal bars, largest on top, for (label, count) items."""
    fonts = register_fonts()
    items = _limit_items([(label or UNFILLED_LABEL, n) for label, n in items])
    if not items:
        return _no_data_drawing()

    label_width = 150.0
    bar_height = 15
    height = len(items) * bar_height + 30
    drawing = Drawing(CHART_WIDTH, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_width + 8, 20
    chart.width = CHART_WIDTH - chart.x - 30
    chart.height = len(items) * bar_height
    # ReportLab stacks categories from the bottom, so reverse to put the
    # largest count on top.
    ordered = list(reversed(items))
    chart.data = [[count for _, count in ordered]]
    chart.bars[0].fillColor = BAR_COLOR
    chart.bars[0].strokeColor = None
    chart.barSpacing = 0
    chart.groupSpacing = 4
    chart.barLabelFormat = format_number
    chart.barLabels.fontName = fonts.regular
    chart.barLabels.fontSize = 7
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    axis = chart.categoryAxis
    axis.categoryNames = [
        shorten(label, label_width - 4, fonts.regular, 7.5) for label, _ in ordered
    ]
    axis.labels.fontName = fonts.regular
    axis.labels.fontSize = 7.5
    axis.labels.fillColor = TEXT_COLOR
    axis.labels.boxAnchor = "e"
    axis.labels.dx = -4
    axis.strokeWidth = 0.5
    _style_value_axis(chart.valueAxis, max(count for _, count in items), fonts.regular)
    drawing.add(chart)
    return drawing


def chart_by_category(stats: RecapStatistics) -> Drawing:
    """Draw horizontal bars of complaints per category."""
    return _horizontal_bars(stats.by_category)


def chart_by_status(stats: RecapStatistics) -> Drawing:
    """Draw horizontal bars of complaints per status."""
    return _horizontal_bars(stats.by_status)


def chart_by_unit(stats: RecapStatistics) -> Drawing:
    """Draw horizontal bars of complaints per destination unit (OPD)."""
    return _horizontal_bars(stats.by_unit)


def chart_by_channel(stats: RecapStatistics) -> Drawing:
    """Draw a pie chart of complaints per channel with a legend of counts."""
    fonts = register_fonts()
    items = _limit_items(
        [(label or UNFILLED_LABEL, n) for label, n in stats.by_channel if n > 0]
    )
    total = sum(count for _, count in items)
    if total <= 0:
        return _no_data_drawing()

    height = max(150.0, len(items) * 14 + 30)
    drawing = Drawing(CHART_WIDTH, height)
    pie = Pie()
    pie.x, pie.y = 20, (height - 130) / 2
    pie.width = pie.height = 130
    pie.data = [count for _, count in items]
    pie.labels = None
    pie.startAngle = 90
    pie.direction = "clockwise"
    pie.slices.strokeColor = colors.white
    pie.slices.strokeWidth = 0.75
    for index in range(len(items)):
        pie.slices[index].fillColor = PALETTE[index % len(PALETTE)]
    drawing.add(pie)

    legend = Legend()
    legend.x, legend.y = 175, height - 15
    legend.alignment = "right"
    legend.fontName = fonts.regular
    legend.fontSize = 8
    legend.dy = 7
    legend.dx = 8
    legend.deltay = 14
    legend.columnMaximum = len(items)
    legend.strokeColor = None
    legend.colorNamePairs = [
        (
            PALETTE[index % len(PALETTE)],
            shorten(
                f"{label}: {format_number(count)} ({format_percent(count, total)})",
                CHART_WIDTH - legend.x - 20,
                fonts.regular,
                8,
            ),
        )
        for index, (label, count) in enumerate(items)
    ]
    drawing.add(legend)
    return drawing


def all_charts(stats: RecapStatistics) -> list[tuple[str, Drawing]]:
    """Build every recap chart as (Indonesian title, drawing) pairs in print order."""
    return [
        ("Grafik Pengaduan Diterima per Hari", chart_per_day(stats)),
        ("Grafik Pengaduan per Kategori", chart_by_category(stats)),
        ("Grafik Pengaduan per Kanal (Sumber)", chart_by_channel(stats)),
        ("Grafik Pengaduan per Status", chart_by_status(stats)),
    ]


def drawing_to_svg(drawing: Drawing, title: str = "") -> str:
    """Render a chart drawing as an inline ``<svg>`` element for an HTML page."""
    fonts = register_fonts()
    font_hacks = {
        fonts.regular: {"family": fonts.css_family},
        fonts.bold: {"family": fonts.css_family, "weight": "bold"},
    }
    svg = renderSVG.drawToString(drawing, fontHacks=font_hacks)
    # Drop the XML declaration and DOCTYPE, which have no place inside HTML.
    svg = svg[svg.find("<svg") :]

    # renderSVG names its clip path "clip" in every chart. Several charts
    # inline on one page would then share the first chart's clip rectangle,
    # so give each SVG its own ids, derived from its content to stay stable.
    suffix = hashlib.sha256(svg.encode()).hexdigest()[:10]
    svg = svg.replace('id="clip"', f'id="clip-{suffix}"')
    svg = svg.replace("url(#clip)", f"url(#clip-{suffix})")
    svg = svg.replace('id="group"', f'id="group-{suffix}"')
    svg = svg.replace("<desc>...</desc>", "", 1)
    return svg.replace("<title>...</title>", f"<title>{escape(title)}</title>", 1)
