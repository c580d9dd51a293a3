"""The content of an alert: one flag as a JSON payload, and as the subject and text of an e-mail.

The payload is built once, when a flag is first delivered to a watch, and stored with the
delivery, so a retry sends exactly the same message (same ``delivery_id``, which receivers can
use to recognise a duplicate).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

APP_URL_ENV_VAR = "ANALYZER_APP_URL"
DEFAULT_APP_URL = "http://localhost:8501"
MAX_TOP_SENTENCES = 3
EVENT = "analyzer.flag"


def app_base_url(base_url: str | None = None) -> str:
    """Where the app is served: ``base_url``, else ``$ANALYZER_APP_URL``, else localhost:8501."""
    return (base_url or os.environ.get(APP_URL_ENV_VAR) or DEFAULT_APP_URL).rstrip("/")


def entity_link(entity_id: str, base_url: str | None = None) -> str:
    """The Entity page of the app for one entity (the page reads ``?entity=ID``)."""
    return f"{app_base_url(base_url)}/entity?{urlencode({'entity': entity_id}, quote_via=quote)}"


def delivery_id(watch_id: int, key: tuple[str, str, str, str]) -> str:
    """A stable id for one flag delivered to one watch: the same on every retry."""
    raw = "\x1f".join([str(watch_id), *key])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def alert_payload(
    flag: Mapping[str, Any],
    *,
    watch_id: int,
    key: tuple[str, str, str, str],
    base_url: str | None = None,
) -> dict[str, Any]:
    """The JSON message for one flag (``flag`` as :func:`analyzer.alerts.current_flags` gives it)."""
    sentences = []
    for sentence in list(flag.get("top_sentences") or [])[:MAX_TOP_SENTENCES]:
        sentences.append(
            {
                "text": sentence.get("text"),
                "source": sentence.get("source"),
                "title": sentence.get("title"),
                "url": sentence.get("url"),
                "published_at": sentence.get("published_at"),
                "hype": sentence.get("hype"),
            }
        )
    return {
        "event": EVENT,
        "delivery_id": delivery_id(watch_id, key),
        "watch_id": int(watch_id),
        "entity": flag["entity"],
        "entity_name": flag.get("name") or flag["entity"],
        "metric": flag.get("metric") or None,
        "freq": flag["freq"],
        "start": flag["start"],
        "end": flag["end"],
        "peak_period": flag.get("peak_period"),
        "peak_value": flag.get("peak_value"),
        "periods": flag.get("periods"),
        "model_version": flag.get("model_version"),
        "summary": flag["summary"],
        "top_sentences": sentences,
        "link": entity_link(flag["entity"], base_url),
    }


def email_subject(payload: Mapping[str, Any]) -> str:
    """The summary's head (entity · metric · interval) as a subject line."""
    head = str(payload["summary"]).split(": ", 1)[0]
    return f"New flag: {head}"


def text_body(payload: Mapping[str, Any]) -> str:
    """Plain text: the one-line summary, the top sentences and the link to the entity page."""
    lines = [str(payload["summary"]), ""]
    sentences = payload.get("top_sentences") or []
    if sentences:
        lines.append("Top sentences:")
        for sentence in sentences:
            where = ", ".join(
                str(x)
                for x in (sentence.get("source"), (sentence.get("published_at") or "")[:10])
                if x
            )
            lines.append(f"- \u201c{sentence.get('text')}\u201d" + (f" ({where})" if where else ""))
        lines.append("")
    lines.append(f"Entity page: {payload['link']}")
    lines.append("")
    lines.append(
        f"Model version {payload.get('model_version') or 'unknown'}; delivery {payload['delivery_id']}."
    )
    return "\n".join(lines) + "\n"
