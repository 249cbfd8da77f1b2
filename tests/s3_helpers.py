"""A real S3-compatible server (moto's server mode, its own process) on 127.0.0.1 for tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import free_port, wait_port


@dataclass
class S3Server:
    endpoint_url: str
    env: dict[str, str]

    def client(self):  # noqa: ANN201 - boto3 client type lives in stubs we do not install
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def moto_server_command(port: int) -> list[str]:
    # This interpreter's moto, not whatever `moto_server` comes first on PATH.
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto server for the session; tests isolate themselves by bucket name."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen(moto_server_command(port), stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}"
        env = {
            "AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        yield S3Server(url, env)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    finally:
        proc.terminate()
        proc.wait(10)
