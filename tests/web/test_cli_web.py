"""``daihou token`` and ``daihou serve`` from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from daihou.cli import app as cli
from tests.web.conftest import Book, free_port

runner = CliRunner()


def test_token_create_use_revoke(book: Book, client: TestClient) -> None:
    made = runner.invoke(cli, ["token", "create", "aud", "--name", "cli", "--db", book.url])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("dht_")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).json()["username"] == "aud"
    listed = runner.invoke(cli, ["token", "list", "--db", book.url])
    assert listed.exit_code == 0 and "cli" in listed.output and secret not in listed.output
    token_id = made.output.split("token ", 1)[1].split(" ", 1)[0]
    revoked = runner.invoke(cli, ["token", "revoke", token_id, "--db", book.url])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    unknown = runner.invoke(cli, ["token", "create", "nobody", "--db", book.url])
    assert unknown.exit_code == 1


@pytest.mark.parametrize("processes", [1, 2])
def test_serve_answers_and_logs_json(book: Book, processes: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from daihou.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--db",
            book.url,
            "--processes",
            str(processes),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine starts Python slowly
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "daihou serve did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        refused = httpx.get(f"http://127.0.0.1:{port}/api/v1/loans", timeout=5)
        assert refused.status_code == 401
    finally:
        server.terminate()
        try:
            _out, err = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # end the worker processes it started too
            os.killpg(server.pid, signal.SIGKILL)
            _out, err = server.communicate(timeout=10)
    access = [line for line in err.splitlines() if '"logger": "daihou.web.access"' in line]
    assert any('"route": "/api/v1/loans"' in line and '"status": 401' in line for line in access)
