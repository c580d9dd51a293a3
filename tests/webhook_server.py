"""A real HTTP server on 127.0.0.1 that receives POSTs, for the webhook and JSON POST tests.

Each path answers with a planned sequence of statuses (the last one repeats) and records every
request it gets: method, headers and body.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Plan:
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'


class WebhookServer:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._plans: dict[str, Plan] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.received.append(
                        Received(
                            self.command,
                            path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    plan = server._plans.get(path, Plan(statuses=[404]))
                    count = server._counts.get(path, 0)
                    server._counts[path] = count + 1
                status = plan.statuses[min(count, len(plan.statuses) - 1)]
                if plan.delay:
                    time.sleep(plan.delay)
                try:
                    self.send_response(status)
                    for name, value in plan.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(plan.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(plan.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_POST = _handle  # noqa: N815 - http.server's naming
            do_GET = _handle  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def plan(self, plan: Plan | None = None, path: str | None = None) -> str:
        """Serve ``plan`` at a fresh (or the given) path; returns the full URL."""
        path = path or f"/{uuid.uuid4().hex}"
        with self._lock:
            self._plans[path] = plan or Plan()
        return self.base + path

    def at(self, url: str) -> list[Received]:
        path = url[len(self.base) :]
        with self._lock:
            return [r for r in self.received if r.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
