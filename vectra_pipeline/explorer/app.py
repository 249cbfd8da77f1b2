"""The explorer's aiohttp application: each route parses its arguments, calls one service function (in a
worker thread: DuckDB and the model block) and renders HTML or returns the same model as JSON."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic_core import to_json

from vectra_capture.protocol.catalog import CATALOG
from vectra_pipeline.explorer import pages
from vectra_pipeline.explorer.markup import colour, event_href
from vectra_pipeline.explorer.security import Guard
from vectra_pipeline.service import catalog, games, overview, search
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import BadRequest, ServiceError
from vectra_pipeline.service.live import LiveStatus, live

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CTX = web.AppKey("ctx", Context)
GUARD = web.AppKey("guard", Guard)
MODEL = web.AppKey("model", threading.Thread)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make the browser send `Origin: null`
    "X-Frame-Options": "DENY",
}


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def _json(model: Any, status: int = 200) -> web.Response:
    return web.Response(body=to_json(model), status=status, content_type="application/json")


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw!r}") from None


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


async def _status(request: web.Request) -> LiveStatus:
    return await call(live, request.app[CTX])


async def _error_response(request: web.Request, code: int, message: str) -> web.Response:
    if _is_api(request):
        return _json({"error": message, "status": code}, code)
    try:
        status = await _status(request)
    except Exception:  # the error page must render even when the status cannot be read
        status = LiveStatus(running=False, connected=False, state="unknown")
    return web.Response(text=pages.error(status, code, message), status=code, content_type="text/html")


@web.middleware
async def guard_and_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    problem = request.app[GUARD].host_problem(request)
    if problem:
        return web.Response(text=problem, status=421)
    try:
        response = await handler(request)
    except ServiceError as exc:
        response = await _error_response(request, exc.status, str(exc))
    except web.HTTPNotFound:
        response = await _error_response(request, 404, f"no page at {request.path}")
    except web.HTTPMethodNotAllowed as exc:
        response = await _error_response(request, 405, f"{request.method} is not allowed here ({exc.allowed_methods})")
    except web.HTTPException:
        raise
    except Exception:  # never a traceback to the browser: logged here, a plain message there
        log.exception("explorer: %s %s failed", request.method, request.path)
        response = await _error_response(request, 500, "internal error; the explorer's log has the details")
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


# ---------------------------------------------------------------- pages


async def overview_page(request: web.Request) -> web.Response:
    ov = await call(overview.overview, request.app[CTX])
    return web.Response(text=pages.overview(ov), content_type="text/html")


async def live_page(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    event = request.query.get("event") or None
    status = await _status(request)
    frames = await call(ctx.tail.frames, 0, event, 100)
    last = frames[-1].n if frames else 0
    seen = await call(ctx.tail.frames, 0, None, 2000)
    names = sorted(set(CATALOG) | {f.event_name for f in seen if f.event_name})
    return web.Response(text=pages.live(status, frames, event, names, last or 0), content_type="text/html")


async def events_page(request: web.Request) -> web.Response:
    rows = await call(catalog.catalog, request.app[CTX])
    return web.Response(text=pages.events(await _status(request), rows), content_type="text/html")


async def event_page(request: web.Request) -> web.Response:
    detail = await call(catalog.event, request.app[CTX], request.match_info["name"])
    message = "saved" if request.query.get("saved") else None
    html = pages.event(await _status(request), detail, request.app[GUARD].token, message)
    return web.Response(text=html, content_type="text/html")


async def verify_form(request: web.Request) -> web.Response:
    form = await request.post()
    problem = request.app[GUARD].post_problem(request, str(form.get("csrf") or ""))
    if problem:
        return await _error_response(request, 403, problem)
    name = request.match_info["name"]
    await call(catalog.verify, request.app[CTX], name, str(form.get("status") or ""), str(form.get("note") or ""))
    raise web.HTTPSeeOther(event_href(name) + "?saved=1")


async def games_page(request: web.Request) -> web.Response:
    page = await call(games.games, request.app[CTX], _int(request, "limit", 50), _int(request, "offset", 0),
                      request.query.get("date"))
    return web.Response(text=pages.games(await _status(request), page), content_type="text/html")


async def game_page(request: web.Request) -> web.Response:
    detail = await call(games.game, request.app[CTX], request.match_info["game_id"])
    return web.Response(text=pages.game(await _status(request), detail), content_type="text/html")


async def search_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "")
    table = request.query.get("table", "events")
    where = request.query.get("where", "")
    res, error, code = None, None, 200
    if MODEL not in request.app:  # the first visit loads the model in the background while the user types
        request.app[MODEL] = _background(search.warm, request.app[CTX])
    if q.strip():
        try:
            res = await call(search.search, request.app[CTX], q, table, where or None, _int(request, "limit", 10))
        except ServiceError as exc:  # a bad filter is a message on the search page itself
            error, code = str(exc), exc.status
    html = pages.search(await _status(request), q, table, where, res, error)
    return web.Response(text=html, content_type="text/html", status=code)


# ---------------------------------------------------------------- JSON API


async def api_overview(request: web.Request) -> web.Response:
    return _json(await call(overview.overview, request.app[CTX]))


async def api_live(request: web.Request) -> web.Response:
    return _json(await _status(request))


async def api_frames(request: web.Request) -> web.Response:
    event = request.query.get("event") or None
    frames = await call(request.app[CTX].tail.frames, _int(request, "after", 0), event,
                        min(max(_int(request, "limit", 200), 1), 2000))
    last = frames[-1].n if frames else _int(request, "after", 0)
    classes = {f.event_name or f.doc_type: colour(f.event_name or f.doc_type) for f in frames}
    return _json({"frames": frames, "last": last, "classes": classes})


async def api_events(request: web.Request) -> web.Response:
    return _json(await call(catalog.catalog, request.app[CTX]))


async def api_event(request: web.Request) -> web.Response:
    return _json(await call(catalog.event, request.app[CTX], request.match_info["name"]))


async def api_verify(request: web.Request) -> web.Response:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("the body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object {status, note}")
    else:
        body = dict(await request.post())
    token = request.headers.get("X-CSRF-Token") or str(body.get("csrf") or "")
    problem = request.app[GUARD].post_problem(request, token)
    if problem:
        return _json({"error": problem, "status": 403}, 403)
    note = body.get("note")
    ver = await call(catalog.verify, request.app[CTX], request.match_info["name"], str(body.get("status") or ""),
                     None if note is None else str(note))
    return _json(ver)


async def api_games(request: web.Request) -> web.Response:
    return _json(await call(games.games, request.app[CTX], _int(request, "limit", 50), _int(request, "offset", 0),
                            request.query.get("date")))


async def api_game(request: web.Request) -> web.Response:
    return _json(await call(games.game, request.app[CTX], request.match_info["game_id"]))


async def api_search(request: web.Request) -> web.Response:
    return _json(await call(search.search, request.app[CTX], request.query.get("q", ""),
                            request.query.get("table", "events"), request.query.get("where") or None,
                            _int(request, "limit", 10)))


def _background(fn: Callable[[Context], Any], ctx: Context) -> threading.Thread:
    """A warm-up in a daemon thread: never delays a shutdown; a failure only means pages compute on demand."""
    def run() -> None:
        try:
            fn(ctx)
        except Exception:
            log.exception("explorer warm-up %s failed", getattr(fn, "__name__", fn))

    thread = threading.Thread(target=run, name="explorer-warm", daemon=True)
    thread.start()
    return thread


async def _warm(app: web.Application) -> None:
    """Read the month of statistics once in the background, so the first page is as fast as the next."""
    _background(lambda ctx: (catalog.event_stats(ctx), overview.holdings(ctx)), app[CTX])


async def _close(app: web.Application) -> None:
    app[CTX].close()


def make_app(ctx: Context, host: str = "127.0.0.1", port: int = 8765, warm: bool = True) -> web.Application:
    app = web.Application(middlewares=[guard_and_errors], client_max_size=64 * 1024)
    app[CTX] = ctx
    app[GUARD] = Guard(host, port)
    r = app.router
    r.add_get("/", overview_page)
    r.add_get("/live", live_page)
    r.add_get("/events", events_page)
    r.add_post("/events/{name}/verify", verify_form)
    r.add_get("/events/{name:.+}", event_page)  # standard%2FnewTrade, and standard/newTrade typed by hand
    r.add_get("/games", games_page)
    r.add_get("/games/{game_id}", game_page)
    r.add_get("/search", search_page)
    r.add_get("/api/overview", api_overview)
    r.add_get("/api/live", api_live)
    r.add_get("/api/live/frames", api_frames)
    r.add_get("/api/events", api_events)
    r.add_post("/api/events/{name}/verify", api_verify)
    r.add_get("/api/events/{name:.+}", api_event)
    r.add_get("/api/games", api_games)
    r.add_get("/api/games/{game_id}", api_game)
    r.add_get("/api/search", api_search)
    r.add_static("/static", STATIC)
    if warm:
        app.on_startup.append(_warm)
    app.on_cleanup.append(_close)
    return app
