"""`vectra capture` (the daemon, foreground) and `vectra status` (what it is doing)."""

from __future__ import annotations

import click

from vectra_capture.cdp.endpoint import CdpEndpointError
from vectra_capture.cdp.redact import DEFAULT_SECRET_KEYS
from vectra_capture.cdp.source import CdpOptions, CdpSource
from vectra_capture.daemon import LIVE_HEADERS, LIVE_URL, CaptureConfig, CaptureFailed, run_daemon
from vectra_capture.frames import DEFAULT_MAX_FRAME_BYTES
from vectra_capture.status import read_status
from vectra_capture.store import LeaseHeld, LockHeld
from vectra_capture.urls import check_capture_url, redact_url
from vectra_pipeline.cli.common import (
    data_dir_option,
    emit_json,
    json_option,
    resolve_paths,
    spool_dir_option,
)


@click.command()
@click.option("--url", default=None, help="Socket.IO server (default: the live rugs.fun backend).")
@click.option("--source", type=click.Choice(["public_ws", "cdp"]), default="public_ws", show_default=True)
@click.option("--watchdog", default=30.0, type=float, show_default=True,
              help="Seconds without a gameStateUpdate (while connected) before an alarm.")
@click.option("--flush-interval", default=1.0, type=float, show_default=True, help="Spool fsync interval, seconds.")
@click.option("--roll-seconds", default=900.0, type=float, show_default=True,
              help="How often the spool is rolled into a Parquet file.")
@click.option("--transport", type=click.Choice(["websocket", "polling"]), multiple=True,
              help="Engine.IO transports (default: websocket).")
@click.option("--max-frame-bytes", default=DEFAULT_MAX_FRAME_BYTES, type=click.IntRange(min=1024), show_default=True,
              help="Frames larger than this are quarantined (event name, size and first 64 KiB kept); "
                   "the connection stays up.")
@click.option("--max-buffer-mb", default=256.0, type=click.FloatRange(min=0.01), show_default=True,
              help="Memory for frames while the disk is full; beyond it frames are dropped (counted).")
@click.option("--cdp", "cdp_url", default=None, metavar="URL",
              help="Record the player's own browser instead: its DevTools endpoint, e.g. http://127.0.0.1:9222 "
                   "(see `vectra browser`).")
@click.option("--cdp-match", default="socket.io", show_default=True,
              help="With --cdp: record the sockets whose URL contains this.")
@click.option("--allow-remote-cdp", is_flag=True, help="With --cdp: accept a DevTools endpoint that is not loopback.")
@click.option("--keep-secrets", is_flag=True,
              help="With --cdp: store sent frames as sent, credentials included (default: redacted).")
@click.option("--redact-keys", default=",".join(DEFAULT_SECRET_KEYS), show_default=True,
              help="With --cdp: keys (case-insensitive substrings) whose values are redacted in sent frames.")
@click.option("--backoff-max", default=30.0, type=float, hidden=True,
              help="Longest pause between reconnect attempts, seconds.")
@data_dir_option
@spool_dir_option
def capture(url: str | None, source: str, watchdog: float, flush_interval: float, roll_seconds: float,
            transport: tuple[str, ...], max_frame_bytes: int, max_buffer_mb: float, cdp_url: str | None,
            cdp_match: str, allow_remote_cdp: bool, keep_secrets: bool, redact_keys: str, backoff_max: float,
            data_dir: str | None, spool_dir: str | None) -> None:
    """Run the capture daemon in the foreground until SIGINT/SIGTERM (which flush everything)."""

    if cdp_url and url:
        raise click.UsageError("--url and --cdp are two different feeds: give one")
    if url is not None:
        try:
            check_capture_url(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--url") from None
    frame_source = None
    if cdp_url:
        try:
            frame_source = CdpSource(CdpOptions(
                cdp_url, match=cdp_match, allow_remote=allow_remote_cdp, keep_secrets=keep_secrets,
                secret_keys=tuple(k.strip() for k in redact_keys.split(",") if k.strip()), backoff_max=backoff_max,
                max_frame_bytes=max_frame_bytes))
        except CdpEndpointError as exc:
            raise click.UsageError(str(exc)) from exc
    # A full disk does not stop the daemon: it buffers in memory and retries (see `vectra status`).
    paths = resolve_paths(data_dir, write=True, allow_full=True, local_dir=spool_dir)
    if paths.remote is not None:
        click.echo(f"object-storage root {paths.location}: spool, locks and status stay local in {paths.root}",
                   err=True)
    config = CaptureConfig(
        url=cdp_url or url or LIVE_URL,
        data_dir=paths,
        source="cdp" if cdp_url else source,
        headers=LIVE_HEADERS if url is None and not cdp_url else {},
        transports=list(transport) or ["websocket"],
        watchdog_seconds=watchdog,
        flush_interval=flush_interval,
        roll_seconds=roll_seconds,
        backoff_max=backoff_max,
        max_frame_bytes=max_frame_bytes,
        max_buffer_bytes=int(max_buffer_mb * (1 << 20)),
    )
    what = f"the browser at {redact_url(config.url)} (sockets matching {cdp_match!r})" if cdp_url \
        else redact_url(config.url)
    click.echo(f"capturing {what} into {paths.location} (Ctrl-C to stop)", err=True)
    try:
        final = run_daemon(config, frame_source)
    except LockHeld as exc:
        raise click.ClickException(f"another capture daemon is writing into {paths.location} ({exc})") from exc
    except LeaseHeld as exc:
        raise click.ClickException(str(exc)) from exc
    except CaptureFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"stopped: received {final['received']}, written {final['written']}, "
        f"quarantined {final['quarantined']}, in Parquet {final['in_parquet']}",
        err=True,
    )


@click.command()
@data_dir_option
@json_option
@spool_dir_option
def status(data_dir: str | None, as_json: bool, spool_dir: str | None) -> None:
    """The capture daemon writing into the data root: connection, counts, lag, live game state."""
    st = read_status(resolve_paths(data_dir, local_dir=spool_dir))
    if as_json:
        emit_json(st)
        return
    click.echo(f"daemon:      {st.get('state')}  (data root {st.get('data_dir')})")
    if "session_id" not in st:
        return
    click.echo(f"feed:        {st['url']}  source={st['source']}  reconnects={st['reconnects']}")
    if "browser" in st:
        click.echo(f"browser:     {st['browser']}  {st.get('browser_version') or ''}  pages={st.get('pages')}  "
                   f"redacted={st.get('redacted')}  ignored frames={st.get('ignored_frames')}")
        for sock in st.get("sockets") or []:
            click.echo(f"socket:      {sock['id']}  {sock['url']}  received={sock['received']}  sent={sock['sent']}")
    frames = st.get("frames") or {}
    click.echo(f"frames:      received={frames.get('received', st['received'])}  sent={frames.get('sent', 0)}")
    click.echo(f"events:      received={st['received']}  written={st['written']}  "
               f"quarantined={st['quarantined']}  system={st['system_events']}")
    if st.get("control_packets"):  # Engine.IO / Socket.IO control packets: counted, not stored
        click.echo("control:     " + "  ".join(f"{k}={v}" for k, v in sorted(st["control_packets"].items())))
    click.echo(f"storage:     spool depth={st['spool_depth']}  in Parquet={st['in_parquet']}  "
               f"last flush={st['last_flush']}  lag={st['lag_seconds']}s")
    if st.get("storage_state", "ok") != "ok":
        click.echo(f"DISK:        {st['storage_state']} since {st.get('storage_since')} ({st.get('storage_error')}): "
                   f"{st.get('buffered_bytes', 0) / 1e6:.1f} MB buffered in memory of "
                   f"{st.get('buffer_limit_bytes', 0) / 1e6:.0f} MB, {st.get('dropped', 0)} dropped")
    elif st.get("dropped"):
        click.echo(f"dropped:     {st['dropped']} records while the disk was full (see records_dropped events)")
    if st.get("roll_failures"):
        click.echo(f"rolls:       {st['roll_failures']} failed, {st.get('rolls_waiting', 0)} waiting for a retry "
                   f"(last: {st.get('last_roll_error')})")
    recovery = st.get("recovery") or {}
    if recovery.get("state") not in (None, "done"):
        click.echo(f"recovery:    {recovery.get('state')}" + (f" ({recovery['error']})" if recovery.get("error") else ""))
    live = st.get("live") or {}
    click.echo(f"game:        {live.get('game_id')}  phase={live.get('phase')}  tick={live.get('tick')}  "
               f"price={live.get('price')}  players={live.get('connected_players')}")
    player = live.get("player") or {}
    if player:
        click.echo(f"LIVE:        {player.get('username') or player.get('id')}  cash={player.get('cash')}  "
                   f"position={player.get('position_qty')} @ {player.get('avg_cost')}  pnl={player.get('pnl')} "
                   f"({player.get('pnl_percent')}%)  at {player.get('updated_at')}"
                   + ("  STALE (feed lost)" if player.get("stale") else ""))
    if st.get("stale"):
        click.echo(f"warning:     status is {st.get('status_age_seconds')}s old", err=True)
