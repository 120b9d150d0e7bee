"""A shields.io-style "flat" badge as a self-contained SVG, drawn locally (no network, no font).

Text widths are estimated from per-character widths of Verdana 11px, the font shields uses, so
the badge looks right without measuring anything at run time.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from conformance.report.model import Report, Verdict

LABEL = "anthropic conformance"
COLORS = {"green": "#4c1", "red": "#e05d44", "yellow": "#dfb317", "grey": "#9f9f9f"}

_NARROW = set("ijlt.,:;|!'I ()[]/")
_WIDE = set("mwMW@%")


def text_width(text: str) -> int:
    """Approximate width in pixels of ``text`` in Verdana 11px."""
    width = 0.0
    for ch in text:
        width += 3.6 if ch in _NARROW else 10.5 if ch in _WIDE else 7.0 if ch.isupper() else 6.6
    return round(width)


def badge_parts(report: Report) -> tuple[str, str, str]:
    """(label, message, colour name) for a report: green all passing on a target that serves
    every family, red any failure, yellow for a target serving only part of the API (its
    message counts families: "1/7 families, 6/6 passing") or answered only by cassettes."""
    passed, tested = report.score
    if tested == 0:
        return LABEL, "nothing tested", "grey"
    served, total = report.served
    message = f"{passed}/{tested} passing"
    if len(served) < total:
        message = f"{len(served)}/{total} families, {message}"
    if not report.target.tested:
        message = f"replayed: {message}"
    if report.verdict is Verdict.FAIL:
        color = "red"
    elif passed == tested and len(served) >= total and report.target.tested:
        color = "green"
    else:
        color = "yellow"
    return LABEL, message, color


def svg(label: str, message: str, color: str) -> str:
    """The badge SVG; ``color`` is a name from ``COLORS`` or a ``#hex`` value."""
    fill = COLORS.get(color, color)
    lw, mw = text_width(label) + 10, text_width(message) + 10
    total = lw + mw
    title = escape(f"{label}: {message}")
    lab, msg = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{fill}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2}" y="15" fill="#010101" fill-opacity=".3">{lab}</text>'
        f'<text x="{lw / 2}" y="14">{lab}</text>'
        f'<text x="{lw + mw / 2}" y="15" fill="#010101" fill-opacity=".3">{msg}</text>'
        f'<text x="{lw + mw / 2}" y="14">{msg}</text></g></svg>'
    )


def report_svg(report: Report) -> str:
    return svg(*badge_parts(report))


def shields_url(report: Report) -> str:
    """The same badge from img.shields.io, for Markdown where a local SVG cannot be embedded."""
    label, message, color = badge_parts(report)
    names = {"green": "brightgreen", "red": "red", "yellow": "yellow", "grey": "lightgrey"}

    def part(text: str) -> str:  # shields escapes '-' and '_' by doubling them
        return quote(text.replace("-", "--").replace("_", "__"), safe="")

    return f"https://img.shields.io/badge/{part(label)}-{part(message)}-{names[color]}"
