"""The pages, each a function from service models to HTML. No data access here: the routes call the
service and hand its models over."""

from __future__ import annotations

from vectra_capture.protocol.catalog import STATUSES
from vectra_pipeline.explorer.chart import fmt_peak, price_svg
from vectra_pipeline.explorer.markup import colour, e, event_href, game_href, link, page, query_href, table
from vectra_pipeline.service.catalog import EventDetail, EventSummary
from vectra_pipeline.service.games import GameDetail, GamesPage
from vectra_pipeline.service.live import LiveStatus
from vectra_pipeline.service.overview import Overview
from vectra_pipeline.service.recent import Frame
from vectra_pipeline.service.search import SearchResults

TABLES = ("events", "code_context", "debug_notes")


def _kv(pairs: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _player(status: LiveStatus) -> str:
    if status.player is None:
        return '<p class="muted">not logged in (no playerUpdate in this session: capture a logged-in ' \
               'browser with <code>vectra capture --cdp</code>)</p>'
    p = status.player
    rows = [("player", e(p.id))] + [(k, e(v if v is None else str(v))) for k, v in p.values.items()]
    rows.append(("updated", f"{e(p.updated_at)} ({e(p.age_seconds)} s ago)"))
    return _kv(rows)


def overview(ov: Overview) -> str:
    st = ov.live
    daemon = _kv([
        ("daemon", e(st.state) + ("" if st.running else " (start it with <code>vectra capture</code>)")),
        ("source", e(st.source)), ("feed", e(st.url)),
        ("last frame", f"{e(st.last_frame_event)} {e(st.last_frame_age_seconds)} s ago" if st.last_frame_at else "–"),
        ("received / written / quarantined", f"{e(st.received)} / {e(st.written)} / {e(st.quarantined)}"),
        ("spool", f"{e(ov.spool_segments)} segment(s), {ov.spool_bytes / 1e6:.1f} MB; {e(st.in_parquet)} rolled "
                  f"into Parquet this session"),
    ])
    g = st.game
    game = _kv([("game", link(game_href(g.game_id), g.game_id)), ("phase", e(g.phase)), ("tick", e(g.tick)),
                ("price", e(g.price)), ("players", e(g.connected_players)),
                ("updated", f"{e(g.age_seconds)} s ago")]) if g else '<p class="muted">no live game</p>'
    held = table(["doc_type", "rows", "files", "MB", "first day", "last day"],
                 [[e(h.doc_type), e(f"{h.rows:,}"), e(h.files), e(f"{h.bytes / 1e6:.1f}"), e(h.first_day),
                   e(h.last_day)] for h in ov.holdings], "num") if ov.holdings else \
        '<p class="muted">No Parquet yet: the daemon rolls its spool into Parquet every few minutes ' \
        '(the <a href="/live">live page</a> shows frames at once).</p>'
    vectors = ", ".join(e(t) for t in ov.vector_tables) or "none yet (<code>vectra index build --full</code>)"
    body = (f'<section class="cards"><div class="card" id="daemon"><h2>Capture</h2>{daemon}</div>'
            f'<div class="card" id="game"><h2>Live game</h2>{game}</div>'
            f'<div class="card" id="player"><h2>Player</h2>{_player(st)}</div></section>'
            f'<h2>Data root</h2><p><code>{e(ov.data_dir)}</code></p><div id="holdings">{held}</div>'
            f"<p>Vector tables: {vectors}</p>")
    return page("Overview", body, st, "/api/overview", active="/")


def frame_row(f: Frame) -> str:
    game = link(game_href(f.game_id), f.game_id) if f.game_id else ""
    name = f.event_name or f.doc_type
    name_html = link(event_href(name), name) if f.doc_type == "ws_event" else e(name)
    return (f'<tr class="frame {colour(name)}" data-event="{e(name)}"><td>{e(f.ts.strftime("%H:%M:%S.%f")[:-3])}'
            f"</td><td>{e(f.direction)}</td><td>{name_html}</td><td>{game}</td><td><code>{e(f.preview)}</code></td></tr>")


def live(status: LiveStatus, frames: list[Frame], event: str | None, names: list[str], last_n: int) -> str:
    options = "".join(f'<option value="{e(n)}"{" selected" if n == event else ""}>{e(n)}</option>' for n in names)
    rows = "".join(frame_row(f) for f in reversed(frames))
    body = f"""<form method="get" action="/live" class="bar">
<label>event <select name="event" id="event-filter"><option value="">all events</option>{options}</select></label>
<button type="submit">filter</button>
<button type="button" id="pause" hidden>pause</button>
<span id="live-state" class="muted">frames at load time</span></form>
<table id="frames" data-after="{last_n}" data-event="{e(event or '')}"><thead><tr><th>received (UTC)</th><th>dir</th>
<th>event</th><th>game</th><th>payload</th></tr></thead><tbody>{rows}</tbody></table>
<noscript><p>Without JavaScript this page shows the frames at load time; reload for new ones.</p></noscript>"""
    return page("Live frames", body, status, query_href("/api/live/frames", event=event), script="live.js",
                active="/live")


def _status_cell(s: EventSummary) -> str:
    v = s.verification
    return f'<span class="status {e(v.status)}">{e(v.status)}</span>' + ("" if v.default else " ✎")


def events(status: LiveStatus, rows: list[EventSummary]) -> str:
    body = table(
        ["event", "direction", "access", "count", "first seen", "last seen", "status", "drift"],
        [[link(event_href(r.name), r.name, colour(r.name)) + ("" if r.known else ' <span class="tag">unknown</span>'),
          e(r.direction), e(r.access), e(f"{r.count:,}"), e(r.first_seen), e(r.last_seen), _status_cell(r),
          ('<span class="drift">' + e(", ".join(r.drift[:6])) + ("…" if len(r.drift) > 6 else "") + "</span>")
          if r.drift else ("" if r.has_model else '<span class="muted">no model</span>')] for r in rows],
        "events")
    note = ("<p>Every event name seen in the raw data or known to the protocol catalog and models. "
            "Drift: payload fields seen that the event's model does not know.</p>")
    return page("Events", note + body, status, "/api/events", active="/events")


def event(status: LiveStatus, d: EventDetail, csrf: str, message: str | None = None) -> str:
    v = d.verification
    when = f" since {e(v.updated_at)}" if v.updated_at else " (default from the docs/protocol.md evidence tag)"
    facts = "".join(f"<li>{e(f)}</li>" for f in d.facts)
    summary = _kv([
        ("meaning", e(d.meaning) if d.meaning else '<span class="muted">not in the protocol catalog</span>'),
        ("direction", e(d.direction)), ("access", e(d.access)), ("traced", e(d.traced)),
        ("count", e(f"{d.count:,}")), ("first / last seen", f"{e(d.first_seen)} / {e(d.last_seen)}"),
        ("model", "yes" if d.has_model else "none"), ("evidence tag (docs/protocol.md)", e(d.source_tag)),
    ])
    fields = table(
        ["field", "present", "types seen", "model type"],
        [[e(f.name) + (' <span class="drift">drift</span>' if f.known is False else ""),
          f"{e(f.present)} ({f.share * 100:.0f}%)", e(", ".join(f"{t} {n}" for t, n in f.types.items())),
          e(f.model_type)] for f in d.fields], "fields") if d.fields else '<p class="muted">no fields seen</p>'
    samples = "".join(
        f'<details class="sample" {"open" if i == 0 else ""}><summary>{e(s.origin)} · {e(s.ts)} · {e(s.source)} · '
        f'session {e(s.session_id[:8])} seq {e(s.seq)}' + (f" · game {link(game_href(s.game_id), s.game_id)}"
                                                           if s.game_id else "")
        + f' · {e(s.size)} bytes</summary><pre>{e(s.payload)}</pre>'
        + ('<p class="muted">shortened for display</p>' if s.truncated else "") + "</details>"
        for i, s in enumerate(d.samples)) or '<p class="muted">not seen in the captured data yet</p>'
    options = "".join(f'<option value="{s}"{" selected" if s == v.status else ""}>{s}</option>' for s in STATUSES)
    flash = f'<p class="flash">{e(message)}</p>' if message else ""
    form = f"""<form method="post" action="{e(event_href(d.name))}/verify" class="verify">
<input type="hidden" name="csrf" value="{e(csrf)}">
<label>status <select name="status">{options}</select></label>
<label>note <input type="text" name="note" size="60" maxlength="2000" value="{e(v.note or '')}"></label>
<button type="submit">save</button></form>"""
    body = (f'{flash}<p>Verification: <span id="verification" class="status {e(v.status)}">{e(v.status)}</span>{when}'
            + (f' — <q id="verification-note">{e(v.note)}</q>' if v.note else "") + f"</p>{form}"
            f"{summary}" + (f"<h2>Facts (docs/protocol.md)</h2><ul>{facts}</ul>" if facts else "")
            + f'<h2>Fields</h2>{fields}<h2>Samples</h2><div id="samples">{samples}</div>')
    return page(d.name, body, status, "/api" + event_href(d.name), active="/events")


def games(status: LiveStatus, p: GamesPage) -> str:
    dates = "".join(f'<option value="{e(d)}"{" selected" if d == p.date else ""}>{e(d)}</option>' for d in p.dates)
    form = (f'<form method="get" action="/games" class="bar"><label>date <select name="date"><option value="">all'
            f"</option>{dates}</select></label><button type=\"submit\">show</button></form>")
    rows = [[link(game_href(g.game_id), g.game_id), e(g.first_seen), e(g.ticks), e(g.rug_tick), fmt_peak(g.peak),
             e(g.trade_count), {True: "✔", False: "✘", None: "–"}[g.seed_verified], "yes" if g.completed else "no"]
            for g in p.items]
    listing = table(["game", "first seen", "ticks", "rug tick", "peak", "trades", "seed verified", "complete"], rows,
                    "games") if rows else ('<p class="muted">No games derived yet: the typed tables are built by '
                                           'Dagster from the raw Parquet (see the Dagster UI).</p>')
    nav = []
    if p.offset > 0:
        nav.append(link(query_href("/games", date=p.date, offset=max(0, p.offset - p.limit), limit=p.limit), "← newer"))
    if p.offset + p.limit < p.total:
        nav.append(link(query_href("/games", date=p.date, offset=p.offset + p.limit, limit=p.limit), "older →"))
    shown = f"{p.offset + 1}–{p.offset + len(p.items)} of {p.total:,}" if p.items else "0"
    body = f'{form}<p>Games {shown}, newest first. {" · ".join(nav)}</p>{listing}'
    return page("Games", body, status, query_href("/api/games", date=p.date, offset=p.offset, limit=p.limit),
                active="/games")


def game(status: LiveStatus, d: GameDetail) -> str:
    g = d.game
    summary = _kv([
        ("date", e(g.date)), ("first / last seen", f"{e(g.first_seen)} / {e(g.last_seen)}"),
        ("ticks of play", e(g.ticks)), ("rug tick", e(g.rug_tick)), ("rug price", e(g.rug_price)),
        ("peak", fmt_peak(g.peak)), ("trades", e(g.trade_count)),
        ("provably fair", {True: "seed verified (sha256(serverSeed) = serverSeedHash)", False: "seed NOT verified",
                           None: "seed not revealed in the data"}[g.seed_verified]),
        ("server seed hash", f"<code>{e(d.server_seed_hash)}</code>"), ("sources", e(", ".join(g.sources))),
        ("price series from", e(d.price_source)),
    ])
    trades = table(["time", "tick", "type", "price", "amount", "qty", "player"],
                   [[e(t.ts), e(t.tick), f'<span class="trade-{e(t.type)}">{e(t.type)}</span>', e(t.price),
                     e(t.amount), e(t.qty), e(t.username or t.player_id)] for t in d.trades], "trades") \
        if d.trades else '<p class="muted">no trades captured for this game</p>'
    legend = ('<p class="legend"><span class="buy">● buy</span> <span class="sell">● sell</span> '
              '<span class="short">● short</span> <span class="rug">| rug</span></p>')
    body = f"{summary}<h2>Price</h2>{price_svg(d)}{legend}<h2>Trades</h2>{trades}"
    return page(f"Game {g.game_id}", body, status, "/api" + game_href(g.game_id), active="/games")


def search(status: LiveStatus, q: str, table_name: str, where: str, res: SearchResults | None,
           error: str | None) -> str:
    options = "".join(f'<option value="{t}"{" selected" if t == table_name else ""}>{t}</option>' for t in TABLES)
    form = f"""<form method="get" action="/search" class="bar">
<input type="search" name="q" value="{e(q)}" size="50" placeholder="what fields does playerUpdate have?">
<label>table <select name="table">{options}</select></label>
<input type="text" name="where" value="{e(where)}" size="30" placeholder="filter, e.g. event_name = 'playerUpdate'">
<button type="submit">search</button></form>"""
    out = [form]
    if error:
        out.append(f'<p class="error" id="search-error">{e(error)}</p>')
    elif res is not None:
        if not res.hits:
            out.append('<p class="muted">no results</p>')
        items = []
        for h in res.hits:
            links = []
            if h.event_name:
                links.append(link(event_href(h.event_name), h.event_name))
            if h.game_id:
                links.append(link(game_href(h.game_id), h.game_id))
            if h.path:
                links.append(f"<code>{e(h.path)}</code>")
            text = h.text if len(h.text) <= 600 else h.text[:600] + "…"
            items.append(f'<li class="hit"><div><span class="tag">{e(h.kind)}</span> <code>{e(h.id)}</code> '
                         f'score {h.score:.4f} {" ".join(links)}</div><p>{e(text)}</p></li>')
        out.append(f'<ol id="hits">{"".join(items)}</ol>')
    return page("Search", "".join(out), status,
                query_href("/api/search", q=q, table=table_name, where=where) if q else None, active="/search")


def error(status: LiveStatus, code: int, message: str) -> str:
    title = {404: "Not found", 400: "Bad request", 403: "Refused", 503: "Not available yet"}.get(code, "Error")
    return page(title, f'<p class="error" id="error-message">{e(message)}</p><p><a href="/">Overview</a></p>',
                status)
