"""A real server against hostile or broken clients and a killed worker, over real sockets."""

from __future__ import annotations

import os
import select
import signal
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.servers import RunningServer
from tests.faults import ONE_LEG, wait_until

READ_TIMEOUT_S = 2
pytestmark = ONE_LEG


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(
        tmp_path_factory.mktemp("resilience"), WORKERS="1", REQUEST_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT_S)
    )
    try:
        yield running.start()
    finally:
        running.stop()


def _connect(server: RunningServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(30)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 30 s pass)."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_client_sending_a_byte_at_a_time_is_cut_off_at_the_read_deadline_with_408(server):
    request = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 21\r\n\r\n" + b'{"code": "dev-alice"}'
    )
    sock = _connect(server)
    sent = 0
    try:
        # One byte every half second: Sanic's own timer (no byte for REQUEST_TIMEOUT) never fires,
        # and sending all of it would take 45 s. The deadline ends it after READ_TIMEOUT_S.
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sent += 1
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                break
        answer = _read_response(sock)
    finally:
        sock.close()
    assert sent < len(request)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"request.timeout"' in answer


def test_a_body_over_the_limit_is_refused_from_its_content_length_before_it_is_read(server):
    # A 19 MiB body announced and never sent: the answer comes at once, not after the read deadline.
    sock = _connect(server)
    try:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 19922944\r\n\r\n" + b'{"code": "'
        )
        answer = _read_response(sock)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"limit_bytes":1048576' in answer


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(server):
    chunk = b"x" * 65536

    def body() -> Iterator[bytes]:
        yield b'{"code": "'
        for _ in range(40):  # 2.5 MiB, over the 1 MiB JSON limit
            yield chunk

    try:
        response = httpx.post(f"{server.url}/api/v1/auth/login", content=body(), timeout=30)
    except httpx.TransportError:
        pytest.fail("the server closed the connection without answering 413")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_only_the_import_route_takes_bodies_over_the_json_limit(server):
    token = server.token("alice")
    body = b"x" * (2 * 1024 * 1024)
    login = httpx.post(f"{server.url}/api/v1/auth/login", content=body, timeout=30)
    imported = httpx.post(
        f"{server.url}/api/v1/orgs/import",
        content=body,
        params={"filename": "orgs.csv"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert login.status_code == 413
    assert imported.status_code != 413, imported.text


def test_an_oversized_header_is_431(server):
    response = httpx.get(f"{server.url}/healthz", headers={"X-Padding": "a" * 9000}, timeout=10)
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "request.header_too_large"


def test_a_killed_worker_is_replaced_and_the_socket_answers_again(server):
    (worker,) = server.worker_pids()
    os.kill(worker, signal.SIGKILL)
    # Connections made while no worker runs wait in the listening socket's queue and are answered
    # by the new worker: this request is one of them.
    response = httpx.get(f"{server.url}/healthz", timeout=60)
    assert response.status_code == 200
    assert wait_until(lambda: len(server.worker_pids()) == 1, timeout=30)
    (replacement,) = server.worker_pids()
    assert replacement != worker
    assert server.process is not None and server.process.poll() is None
    assert "died with exit code -9; starting another" in server.log.read_text()
