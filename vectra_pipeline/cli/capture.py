"""`vectra capture` (the daemon, foreground) and `vectra status` (what it is doing)."""

from __future__ import annotations

import click

from vectra_capture.daemon import LIVE_HEADERS, LIVE_URL, CaptureConfig, CaptureFailed, run_daemon
from vectra_capture.frames import DEFAULT_MAX_FRAME_BYTES
from vectra_capture.status import read_status
from vectra_capture.store import LockHeld
from vectra_capture.urls import check_capture_url, redact_url
from vectra_pipeline.cli.common import data_dir_option, emit_json, json_option, resolve_paths


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
@data_dir_option
def capture(url: str | None, source: str, watchdog: float, flush_interval: float, roll_seconds: float,
            transport: tuple[str, ...], max_frame_bytes: int, max_buffer_mb: float, data_dir: str | None) -> None:
    """Run the capture daemon in the foreground until SIGINT/SIGTERM (which flush everything)."""

    if url is not None:
        try:
            check_capture_url(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--url") from None
    # A full disk does not stop the daemon: it buffers in memory and retries (see `vectra status`).
    paths = resolve_paths(data_dir, write=True, allow_full=True)
    config = CaptureConfig(
        url=url or LIVE_URL,
        data_dir=paths,
        source=source,
        headers=LIVE_HEADERS if url is None else {},
        transports=list(transport) or ["websocket"],
        watchdog_seconds=watchdog,
        flush_interval=flush_interval,
        roll_seconds=roll_seconds,
        max_frame_bytes=max_frame_bytes,
        max_buffer_bytes=int(max_buffer_mb * (1 << 20)),
    )
    click.echo(f"capturing {redact_url(config.url)} into {paths.root} (Ctrl-C to stop)", err=True)
    try:
        final = run_daemon(config)
    except LockHeld as exc:
        raise click.ClickException(f"another capture daemon is writing into {paths.root} ({exc})") from exc
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
def status(data_dir: str | None, as_json: bool) -> None:
    """The capture daemon writing into the data root: connection, counts, lag, live game state."""
    st = read_status(resolve_paths(data_dir))
    if as_json:
        emit_json(st)
        return
    click.echo(f"daemon:      {st.get('state')}  (data root {st.get('data_dir')})")
    if "session_id" not in st:
        return
    click.echo(f"feed:        {st['url']}  source={st['source']}  reconnects={st['reconnects']}")
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
    if live.get("player"):
        click.echo(f"player:      {live['player']}")
    if st.get("stale"):
        click.echo(f"warning:     status is {st.get('status_age_seconds')}s old", err=True)
