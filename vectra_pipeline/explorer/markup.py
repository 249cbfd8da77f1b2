"""Small HTML helpers: escaping, the page layout, tables, links. Pages are plain server-rendered HTML;
the stylesheet and the one script are served from this package (nothing from outside the machine)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from vectra_pipeline.service.live import LiveStatus

PALETTE = 12  # colour classes c0..c11 in explorer.css
NAV = (("/", "Overview"), ("/live", "Live"), ("/events", "Events"), ("/games", "Games"), ("/search", "Search"))


def e(value: Any) -> str:
    """Escaped text of a value; decimals as their exact text, None as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return escape(value.strftime("%Y-%m-%d %H:%M:%S UTC"))
    if isinstance(value, Decimal):
        text = format(value, "f")
        return escape(text.rstrip("0").rstrip(".") if "." in text else text)
    return escape(str(value))


def colour(name: str | None) -> str:
    """A stable colour class per event name (the live page's script computes the same)."""
    return f"c{zlib.crc32((name or '').encode()) % PALETTE}"


def event_href(name: str) -> str:
    return "/events/" + quote(name, safe="")


def game_href(game_id: str) -> str:
    return "/games/" + quote(game_id, safe="")


def link(href: str, text: Any, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<a href="{escape(href)}"{klass}>{e(text)}</a>'


def query_href(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """Cells are already HTML (escape with e())."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def live_badge(status: LiveStatus) -> str:
    if status.connected:
        age = status.last_frame_age_seconds
        text = f"LIVE · {status.source or '?'} · last frame {age:.1f} s ago" if age is not None else \
            f"LIVE · {status.source or '?'}"
        cls = "live on"
    elif status.running:
        text, cls = f"daemon {status.state}", "live warn"
    else:
        text, cls = "not capturing", "live off"
    return f'<span id="live-badge" class="{cls}">{e(text)}</span>'


def page(title: str, body: str, status: LiveStatus, json_href: str | None = None, script: str | None = None,
         active: str = "") -> str:
    nav = "".join(f'<a href="{h}" class="{"active" if h == active else ""}">{t}</a>' for h, t in NAV)
    api = f'<a class="json" href="{escape(json_href)}">JSON</a>' if json_href else ""
    js = f'<script src="/static/{script}" defer></script>' if script else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · Vectra Protocol Explorer</title><link rel="stylesheet" href="/static/explorer.css">{js}</head>
<body><header><strong>Vectra</strong><nav>{nav}</nav>{live_badge(status)}</header>
<main><h1>{e(title)}</h1>{body}</main>
<footer>{api} Local Protocol Explorer: reads the data root, writes only verification statuses through the store.</footer>
</body></html>"""
