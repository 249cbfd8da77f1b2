"""What a service call can refuse, so each front end (page, JSON API, CLI, MCP) can say it its own way."""

from __future__ import annotations


class ServiceError(Exception):
    status = 500


class NotFound(ServiceError):
    """An unknown event name, game id or table row."""

    status = 404


class BadRequest(ServiceError):
    """An argument that cannot be used (bad filter, unknown table, bad status); the message says why."""

    status = 400


class Unavailable(ServiceError):
    """The data this call needs is not built yet (e.g. no vector table); the message says how to build it."""

    status = 503
