"""One game's price curve as inline SVG, with its trades marked (no script, no external library).
A log scale when the price moves over more than 20x (a 100x game would flatten everything else)."""

from __future__ import annotations

import math
from decimal import Decimal

from vectra_pipeline.explorer.markup import e
from vectra_pipeline.service.games import GameDetail

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 900, 320, 60, 16, 16, 36
TRADE_CLASS = {"buy": "buy", "sell": "sell", "short_open": "short", "short_close": "short"}


def price_svg(detail: GameDetail) -> str:
    points = [(p.tick, float(p.price)) for p in detail.prices if p.price is not None and p.price > 0]
    trades = [t for t in detail.trades if t.tick is not None and t.price is not None and t.price > 0]
    if not points and not trades:
        return '<p class="empty">No price series for this game.</p>'
    values = [v for _, v in points] + [float(t.price) for t in trades]
    ticks = [t for t, _ in points] + [t.tick for t in trades]
    lo, hi = min(values), max(values)
    log = hi / lo > 20
    f = (lambda v: math.log10(v)) if log else (lambda v: v)
    y_lo, y_hi = f(lo), f(hi)
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    t_lo, t_hi = min(ticks), max(ticks)
    span = max(t_hi - t_lo, 1)

    def x(tick: float) -> float:
        return PAD_L + (tick - t_lo) / span * (W - PAD_L - PAD_R)

    def y(value: float) -> float:
        return PAD_T + (1 - (f(value) - y_lo) / (y_hi - y_lo)) * (H - PAD_T - PAD_B)

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="price per tick of game {e(detail.game.game_id)}">']
    parts.append(f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}"/>')
    parts.append(f'<line class="axis" x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}"/>')
    for value in sorted({lo, hi, 1.0} if lo <= 1.0 <= hi else {lo, hi}):
        parts.append(f'<text class="label" x="{PAD_L - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.4g}x</text>')
        parts.append(f'<line class="grid" x1="{PAD_L}" y1="{y(value):.1f}" x2="{W - PAD_R}" y2="{y(value):.1f}"/>')
    parts.append(f'<text class="label" x="{PAD_L}" y="{H - 12}">tick {t_lo}</text>')
    parts.append(f'<text class="label" x="{W - PAD_R}" y="{H - 12}" text-anchor="end">tick {t_hi}</text>')
    if log:
        parts.append(f'<text class="label" x="{W // 2}" y="{H - 12}" text-anchor="middle">log scale</text>')
    if points:
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(f'<polyline class="price" points="{path}"/>')
    rug = detail.game.rug_tick
    if rug is not None:
        parts.append(f'<line class="rug" x1="{x(rug):.1f}" y1="{PAD_T}" x2="{x(rug):.1f}" y2="{H - PAD_B}">'
                     f'<title>rug at tick {rug}</title></line>')
    for t in trades:
        cls = TRADE_CLASS.get(t.type or "", "other")
        who = t.username or t.player_id or "?"
        parts.append(f'<circle class="trade {cls}" cx="{x(t.tick):.1f}" cy="{y(float(t.price)):.1f}" r="4">'
                     f'<title>{e(t.type)} {e(t.amount)} by {e(who)} at tick {t.tick}, price {e(t.price)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def fmt_peak(value: Decimal | None) -> str:
    return "–" if value is None else f"{float(value):.4g}x"
