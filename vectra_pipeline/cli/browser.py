"""`vectra browser`: start Chrome/Chromium for the logged-in capture (`vectra capture --cdp`)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path

import click

from vectra_capture.cdp.browser import (
    DEFAULT_PORT,
    DEFAULT_URL,
    BrowserError,
    BrowserLaunch,
    cdp_version,
    check_profile,
    find_browser,
    start_browser,
)
from vectra_pipeline.cli.common import data_dir_option, emit_json, json_option, resolve_paths


def default_profile() -> Path:
    """Under the user's config directory ($XDG_CONFIG_HOME/vectra on Linux), never the data root."""
    return Path(click.get_app_dir("vectra")) / "browser-profile"


@click.command()
@click.argument("url", default=DEFAULT_URL)
@click.option("--profile", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Browser profile folder (default: browser-profile under your config directory).")
@click.option("--port", default=DEFAULT_PORT, type=int, show_default=True, help="Remote debugging port (127.0.0.1).")
@click.option("--chrome", "chrome", default=None, help="The browser executable (default: found on PATH).")
@click.option("--headless", is_flag=True, help="No window (servers, tests).")
@click.option("--detach", is_flag=True, help="Leave the browser running and return at once.")
@click.option("--chrome-arg", "chrome_args", multiple=True, help="An extra command-line flag for the browser.")
@data_dir_option
@json_option
def browser(url: str, profile: Path | None, port: int, chrome: str | None, headless: bool, detach: bool,
            chrome_args: tuple[str, ...], data_dir: str | None, as_json: bool) -> None:
    """Start Chrome/Chromium with a persistent profile and remote debugging on 127.0.0.1, open URL
    (default the game), print the CDP URL for `vectra capture --cdp`. Log in once; the profile keeps
    the session. Without --detach it runs until the browser closes (Ctrl-C closes it)."""
    paths = resolve_paths(data_dir)
    try:
        launch = BrowserLaunch(find_browser(chrome), check_profile(profile or default_profile(), paths.root),
                               port, url, headless, chrome_args)
    except BrowserError as exc:
        raise click.ClickException(str(exc)) from exc
    running = cdp_version(port)
    if running is not None:
        raise click.ClickException(f"something already serves CDP on 127.0.0.1:{port} ({running.get('Browser')}): "
                                   f"capture it with `vectra capture --cdp {launch.cdp_url}`, or pick another --port")
    try:
        proc, version = start_browser(launch)
    except BrowserError as exc:
        raise click.ClickException(str(exc)) from exc
    info = {"cdp_url": launch.cdp_url, "browser": version.get("Browser"), "profile": str(launch.profile),
            "pid": proc.pid, "url": url}
    if as_json:
        emit_json(info)
    else:
        click.echo(f"{info['browser']} (pid {proc.pid}) with profile {launch.profile}")
        click.echo(f"CDP: {launch.cdp_url}")
        click.echo(f"record it:  vectra capture --cdp {launch.cdp_url}")
    if detach:
        return
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped either way: close the browser too
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
