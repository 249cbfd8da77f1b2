"""`vectra mcp`: the MCP server for assistants, over stdio (the assistant starts it) or streamable HTTP
on a loopback address."""

from __future__ import annotations

import ipaddress
import logging

import click

from vectra_pipeline.cli.common import data_dir_option, local_only, resolve_paths
from vectra_pipeline.mcp.readonly_sql import DEFAULT_TIMEOUT_S
from vectra_pipeline.mcp.server import build_server

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def parse_address(value: str, allow_remote: bool) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT or PORT (on 127.0.0.1); a non-loopback host only with allow_remote."""
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", value
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:8766", param_hint="--http") from None
    if not 0 < port < 65536:
        raise click.BadParameter(f"port {port} is not 1..65535", param_hint="--http")
    if not is_loopback(host) and not allow_remote:
        raise click.BadParameter(
            f"{host} is not a loopback address: the server has no authentication, so it listens on "
            f"127.0.0.1 unless you pass --allow-remote", param_hint="--http")
    return host, port


@click.command()
@click.option("--http", "http_address", default=None, metavar="HOST:PORT",
              help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (loopback only by default).")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --http address (no authentication!).")
@click.option("--sql-timeout", default=DEFAULT_TIMEOUT_S, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a sql tool query may run before it is stopped.")
@click.option("--no-warm", is_flag=True, help="Do not load the search model in the background at start-up.")
@data_dir_option
def mcp(http_address: str | None, allow_remote: bool, sql_timeout: float, no_warm: bool, data_dir: str | None) -> None:
    """The MCP server: tools search, sql, protocol, live, add_note; the data root's CONTEXT.md as a resource."""
    address = parse_address(http_address, allow_remote) if http_address else None
    paths = resolve_paths(data_dir)
    local_only(paths, "The MCP server")
    server = build_server(paths, warm=not no_warm, sql_timeout_s=sql_timeout)
    if address is None:
        log.info("mcp: stdio, data root %s", paths.root)
        server.run("stdio")
        return
    host, port = address
    if not is_loopback(host):
        log.warning("mcp: listening on %s without authentication: anyone who can reach it can read the data", host)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"MCP server on http://{shown}:{port}/mcp (data root {paths.root})", err=True)
    server.run("streamable-http", host=host, port=port)
