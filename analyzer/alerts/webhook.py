"""Webhook delivery: the alert as JSON, POSTed through :class:`analyzer.ingest.fetch.SafeFetcher`.

The body is compact UTF-8 JSON. With a secret, ``X-Analyzer-Signature`` carries
``sha256=`` and the hex HMAC-SHA256 of the exact body bytes; a receiver recomputes it with the
shared secret (:func:`verify_signature`) to know the message is ours and unaltered.
``X-Analyzer-Delivery`` carries the delivery id, the same on every retry of one message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADER = "X-Analyzer-Signature"
DELIVERY_HEADER = "X-Analyzer-Delivery"
EVENT_HEADER = "X-Analyzer-Event"


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode(
        "utf-8"
    )


def sign_body(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time compare)."""
    if not header:
        return False
    return hmac.compare_digest(sign_body(body, secret), header.strip())


def send_webhook(
    fetcher: Any, url: str, payload: Mapping[str, Any], *, secret: str | None = None
) -> str | None:
    """POST the alert; returns None when the receiver accepted it (2xx), else the reason."""
    body = encode_payload(payload)
    headers = {
        DELIVERY_HEADER: str(payload.get("delivery_id", "")),
        EVENT_HEADER: str(payload.get("event", "")),
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign_body(body, secret)
    result = fetcher.post_json(url, None, body=body, headers=headers)
    if result.ok:
        return None
    attempts = f" after {result.attempts} attempt(s)" if result.attempts > 1 else ""
    return f"{result.status}: {result.error or result.status}{attempts}"
