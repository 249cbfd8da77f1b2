"""An S3-compatible data root (`RUGS_DATA_DIR=s3://bucket/prefix`): one place that turns the
usual AWS environment into the three clients that need it (pyarrow, fsspec for DuckDB, LanceDB).

Endpoint, region and credentials come from the standard variables (`AWS_ENDPOINT_URL_S3` or
`AWS_ENDPOINT_URL`, `AWS_REGION` or `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) or a profile (`AWS_PROFILE`), so the same setting
works against AWS, MinIO or a local moto server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pyarrow.fs

S3_SCHEME = "s3://"


class ObjectRootError(ValueError):
    """An object-store root that cannot be used (bad URI, missing bucket name)."""


def is_object_uri(value: str | os.PathLike[str] | None) -> bool:
    return isinstance(value, str) and value.startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Settings:
    """The connection settings read once from the environment (never logged: keys are secret)."""

    endpoint_url: str | None
    region: str | None
    access_key: str | None = field(repr=False)
    secret_key: str | None = field(repr=False)
    session_token: str | None = field(repr=False)
    profile: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Settings:
        env = os.environ if env is None else env
        return cls(
            endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            access_key=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            profile=env.get("AWS_PROFILE") or None,
        )

    @property
    def allows_http(self) -> bool:
        return bool(self.endpoint_url and self.endpoint_url.startswith("http://"))


@dataclass(frozen=True)
class ObjectRoot:
    """`s3://bucket/prefix`: the bucket and the key prefix every data-root key goes under."""

    bucket: str
    prefix: str
    settings: S3Settings

    @classmethod
    def parse(cls, uri: str, env: Mapping[str, str] | None = None) -> ObjectRoot:
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise ObjectRootError(f"not an object-store root: {uri!r} (expected s3://bucket/prefix)")
        return cls(parts.netloc, parts.path.strip("/"), S3Settings.from_env(env))

    @property
    def base(self) -> str:
        """`bucket/prefix`: the root as pyarrow and fsspec paths spell it (no scheme)."""
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket

    @property
    def uri(self) -> str:
        return S3_SCHEME + self.base

    def key(self, relative: str) -> str:
        """The filesystem path of a data-root relative path (`events_parquet/...`)."""
        return f"{self.base}/{relative.strip('/')}" if relative.strip("/") else self.base

    def child_uri(self, relative: str) -> str:
        return S3_SCHEME + self.key(relative)

    def pyarrow_fs(self) -> pyarrow.fs.S3FileSystem:
        """pyarrow's S3 filesystem: writes are single PUTs or completed multipart uploads, so a
        reader never sees a partial object."""
        from pyarrow import fs

        s = self.settings
        kwargs: dict[str, Any] = {}
        if s.endpoint_url:
            ep = urlsplit(s.endpoint_url)
            kwargs["endpoint_override"] = ep.netloc
            kwargs["scheme"] = ep.scheme or "https"
        if s.region:
            kwargs["region"] = s.region
        if s.access_key and s.secret_key:
            kwargs.update(access_key=s.access_key, secret_key=s.secret_key, session_token=s.session_token)
        return fs.S3FileSystem(**kwargs)

    def fsspec_fs(self) -> Any:
        """An s3fs filesystem, for DuckDB's `register_filesystem` (no httpfs download at run time)."""
        import s3fs

        s = self.settings
        client_kwargs: dict[str, Any] = {}
        if s.endpoint_url:
            client_kwargs["endpoint_url"] = s.endpoint_url
        if s.region:
            client_kwargs["region_name"] = s.region
        return s3fs.S3FileSystem(
            key=s.access_key, secret=s.secret_key, token=s.session_token, profile=s.profile,
            client_kwargs=client_kwargs, use_listings_cache=False,
        )

    def lance_storage_options(self) -> dict[str, str]:
        """LanceDB's `storage_options` for this root (its object_store speaks the same settings)."""
        s = self.settings
        opts: dict[str, str] = {}
        if s.endpoint_url:
            opts["aws_endpoint"] = s.endpoint_url
        if s.allows_http:
            opts["allow_http"] = "true"
        if s.region:
            opts["aws_region"] = s.region
        if s.access_key and s.secret_key:
            opts["aws_access_key_id"] = s.access_key
            opts["aws_secret_access_key"] = s.secret_key
        if s.session_token:
            opts["aws_session_token"] = s.session_token
        return opts


_FILESYSTEMS: dict[ObjectRoot, Any] = {}


def shared_pyarrow_fs(root: ObjectRoot) -> pyarrow.fs.S3FileSystem:
    """One pyarrow S3 filesystem per root and process (it holds a connection pool)."""
    fs = _FILESYSTEMS.get(root)
    if fs is None:
        fs = _FILESYSTEMS[root] = root.pyarrow_fs()
    return fs


_FSSPEC: dict[ObjectRoot, Any] = {}


def shared_fsspec_fs(root: ObjectRoot) -> Any:
    """One s3fs filesystem per root and process: deletes go through it, because pyarrow's
    delete_file leaves an empty `folder/` marker object behind when it removes a folder's last key."""
    fs = _FSSPEC.get(root)
    if fs is None:
        fs = _FSSPEC[root] = root.fsspec_fs()
    return fs


# Set when a process resolves an s3:// data root: DuckDB connections then register the S3
# filesystem (see vectra_pipeline/duck.py); a process on a local root never imports s3fs.
_in_use: list[S3Settings] = []


def mark_in_use(root: ObjectRoot) -> None:
    if root.settings not in _in_use:
        _in_use.append(root.settings)


def settings_in_use() -> S3Settings | None:
    """The settings of the object root this process uses, or None (none resolved, and
    RUGS_DATA_DIR is not an s3:// URI)."""
    if _in_use:
        return _in_use[-1]
    if is_object_uri(os.environ.get("RUGS_DATA_DIR")):
        return S3Settings.from_env()
    return None
