"""Real servers for the notification tests: an SMTP server (aiosmtpd) and an HTTP webhook receiver, both on
127.0.0.1 in this process, a time-skipping Temporal server, and a directory whose people have addresses.
"""

import hashlib
import hmac
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio.client import Client

from core.database import make_engine
from core.migrations import ensure_schema
from core.readmodel import add_user
from core.settings import Settings
from tests.policies import EARLIER
from worker import build_worker

SECRET = "test-webhook-secret"
BASE_URL = "https://capa.example.test"

# Who has an address: everyone but oscar, so one owner shows what happens without one.
ADDRESSES = {
    "ada": "ada@plant.test",
    "maria": "maria@plant.test",
    "mike": "mike@plant.test",
    "olivia": "olivia@plant.test",
    "otto": "otto@plant.test",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- SMTP -----------------------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server accepted: one parsed message per envelope recipient."""

    messages: list[tuple[str, EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.extend((str(rcpt), parsed) for rcpt in envelope.rcpt_tos)
        return "250 OK"

    def received(self) -> list[tuple[str, EmailMessage]]:
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1 that keeps every message it accepts."""
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# --- webhooks ---------------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTP endpoint that checks the signature and processes each idempotency key once.

    ``script[path]`` lists the status codes to answer, one per request, before answering 200 for good.
    """

    base: str = ""
    script: dict[str, list[int]] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    processed: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def posts_to(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.posts if p["path"] == path]

    def processed_at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.processed if p["path"] == path]

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(headers.get("x-capa-signature", ""), expected)
        post = {"path": path, "headers": headers, "body": json.loads(body), "valid": valid}
        with self.lock:
            self.posts.append(post)
            planned = self.script.get(path, [])
            if planned:
                return planned.pop(0)
            if not valid:
                return 401
            key = headers.get("idempotency-key")
            if any(p["path"] == path and p["headers"].get("idempotency-key") == key for p in self.processed):
                return 200  # seen before: acknowledged, not processed again
            self.processed.append(post)
            return 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 (stdlib, in a thread) playing a webhook consumer."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --- Temporal, the database and the worker ------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """The test plant's directory (see tests/conftest.py), with the e-mail addresses of ADDRESSES."""
    db = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
    ensure_schema(db)
    for name, role, manager in [
        ("ada", "admin", None),
        ("maria", "manager", "ada"),
        ("mike", "manager", "maria"),
        ("nina", "manager", "maria"),
        ("olivia", "owner", "mike"),
        ("oscar", "owner", "mike"),
        ("otto", "operator", "mike"),
        ("paul", "owner", "nina"),
    ]:
        add_user(db, name, role, manager=manager, email=ADDRESSES.get(name))
    return db


def notification_settings(
    *, smtp_port: int | None = None, webhook_urls: list[str] | None = None, max_attempts: int = 8
) -> Settings:
    return Settings(
        smtp_host="127.0.0.1" if smtp_port else None,
        smtp_port=smtp_port or 25,
        smtp_from="capaflow@plant.test",
        webhook_urls=webhook_urls or [],
        webhook_secret=SecretStr(SECRET) if webhook_urls else None,
        base_url=BASE_URL,
        notify_max_attempts=max_attempts,
    )


@asynccontextmanager
async def notifying_worker(client: Client, engine: Engine, settings: Settings) -> AsyncIterator[str]:
    """The production worker (records and deliveries) on a fresh task queue, with these settings."""
    task_queue = f"notify-test-{uuid.uuid4()}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = build_worker(
            client, task_queue=task_queue, engine=engine, policy=EARLIER, executor=executor, settings=settings
        )
        async with worker:
            yield task_queue
