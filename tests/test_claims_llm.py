"""The optional LLM claim extractor and the safe fetcher's JSON POST, against a local server."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analyzer.claims.llm import LLMError, LLMExtractor, parse_answer
from analyzer.errors import InputError


class ChatServer(BaseHTTPRequestHandler):
    """An OpenAI-style chat-completions endpoint whose answers the test chooses (``mode``)."""

    mode = "good"
    requests: list[dict[str, Any]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"{}")
        type(self).requests.append(
            {"path": self.path, "headers": dict(self.headers), "payload": payload}
        )
        if self.path == "/moved/chat/completions":
            self._send(307, b"", {"Location": "/v1/chat/completions"})
            return
        if self.path == "/see-other/chat/completions":
            self._send(303, b"", {"Location": "/v1/chat/completions"})
            return
        if self.path == "/huge/chat/completions":
            self._send(200, b"x" * (3 * 1024 * 1024))
            return
        if self.headers.get("Authorization") == "Bearer wrong":
            self._send(401, b'{"error": "bad key"}')
            return
        user = payload["messages"][-1]["content"]
        claims = []
        for index, text in re.findall(r"^\[(\d+)\] (.*)$", user, re.MULTILINE):
            if "double" in text:
                claims.append(
                    {
                        "sentence_id": int(index),
                        "metric": "revenue",
                        "direction": "up",
                        "magnitude_kind": "multiplier",
                        "magnitude_value": 2,
                        "magnitude_unit": "x",
                        "currency": None,
                        "per_year": False,
                        "baseline_value": None,
                        "horizon": "2024-12-31",
                        "horizon_text": "by 2024",
                        "hedge": "expected",
                        "speaker": "company",
                    }
                )
        content: Any = json.dumps({"claims": claims})
        if type(self).mode == "fenced":
            content = f"```json\n{content}\n```"
        elif type(self).mode == "extra-key":
            content = json.dumps({"claims": [{**c, "confidence": 0.9} for c in claims]})
        elif type(self).mode == "bad-metric":
            content = json.dumps({"claims": [{**c, "metric": "vibes"} for c in claims]})
        elif type(self).mode == "unknown-sentence":
            content = json.dumps({"claims": [{**c, "sentence_id": 999} for c in claims]})
        elif type(self).mode == "prose":
            content = "Sure! Here are the claims you asked for."
        self._send(
            200,
            json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": content}}]}
            ).encode(),
        )


@pytest.fixture
def server() -> Iterator[str]:
    ChatServer.mode, ChatServer.requests = "good", []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    sentences = pd.DataFrame(
        {
            "document_id": [7, 7, 7],
            "sentence_index": [0, 1, 2],
            "text": [
                "Acme had 3 offices.",
                "Acme expects revenue to double by 2024.",
                "Nothing to see here.",
            ],
            "growth": [0.9, 0.9, 0.9],
            "entity_ids": [["acme"], ["acme"], []],
        }
    )
    documents = pd.DataFrame(
        [{"document_id": 7, "published_at": "2023-03-01", "language": "en", "entity_ids": "acme"}]
    )
    return sentences, documents


def test_llm_claims_fill_the_same_fields_as_the_rules(server: str) -> None:
    from analyzer.claims.extract import CLAIM_COLUMNS

    extractor = LLMExtractor(url=f"{server}/v1", model="tiny", api_key="secret", allow_private=True)
    claims = extractor.extract(*frames())
    assert list(claims.columns)[: len(CLAIM_COLUMNS)] == list(CLAIM_COLUMNS)
    assert len(claims) == 1
    row = claims.iloc[0]
    assert (row["sentence_index"], row["entity_id"], row["metric"], row["claimed_change"]) == (
        1,
        "acme",
        "revenue",
        2.0,
    )
    assert (
        row["horizon"] == "2024-12-31"
        and row["method"] == "llm:tiny"
        and row["extractor_version"] == "llm-1:tiny"
    )
    request = ChatServer.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer secret"
    assert request["payload"]["model"] == "tiny"
    # Sentences without a number are not sent at all.
    assert "Nothing to see here" not in request["payload"]["messages"][-1]["content"]
    extractor.close()


def test_fenced_json_is_accepted(server: str) -> None:
    ChatServer.mode = "fenced"
    claims = LLMExtractor(url=f"{server}/v1", model="m", allow_private=True).extract(*frames())
    assert len(claims) == 1


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("extra-key", "does not fit the claim schema"),
        ("bad-metric", "does not fit the claim schema at claims/0/metric"),
        ("unknown-sentence", "sentence 999"),
        ("prose", "not JSON"),
    ],
)
def test_answers_outside_the_schema_are_refused(server: str, mode: str, message: str) -> None:
    ChatServer.mode = mode
    with pytest.raises(LLMError, match=message):
        LLMExtractor(url=f"{server}/v1", model="m", allow_private=True).extract(*frames())


def test_errors_name_the_fix(server: str) -> None:
    with pytest.raises(LLMError, match="--allow-private"):
        LLMExtractor(url=f"{server}/v1", model="m").extract(*frames())
    with pytest.raises(LLMError, match="API key"):
        LLMExtractor(url=f"{server}/v1", model="m", api_key="wrong", allow_private=True).extract(
            *frames()
        )
    with pytest.raises(InputError, match="endpoint and model"):
        LLMExtractor(url="", model="")
    with pytest.raises(InputError, match="http"):
        LLMExtractor(url="file:///etc", model="m")


def test_from_env(monkeypatch: pytest.MonkeyPatch, server: str) -> None:
    monkeypatch.setenv("ANALYZER_LLM_URL", f"{server}/v1")
    monkeypatch.setenv("ANALYZER_LLM_MODEL", "envmodel")
    extractor = LLMExtractor.from_env(allow_private=True)
    assert extractor.model == "envmodel" and extractor.endpoint.endswith("/v1/chat/completions")


def test_parse_answer_without_choices() -> None:
    with pytest.raises(LLMError, match="chat-completions"):
        parse_answer(b'{"data": []}', {0})


def test_cli_extract_with_the_llm(server: str, tmp_path: Path) -> None:
    from test_claims_ledger import seed
    from typer.testing import CliRunner

    from analyzer.cli import app
    from analyzer.storage import Store

    path = tmp_path / "llm.db"
    with Store(path) as store:
        seed(store)
    result = CliRunner().invoke(
        app,
        [
            "claims",
            "extract",
            "--db",
            str(path),
            "--llm-url",
            f"{server}/v1",
            "--llm-model",
            "tiny",
            "--allow-private",
            "--json",
            "--as-of",
            "2025-06-01",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (
        summary["extract"]["extractor_version"] == "llm-1:tiny"
        and summary["extract"]["claims"] == 1
    )
    with Store(path) as store:
        (claim,) = store.claims()
        assert claim["method"] == "llm:tiny" and claim["status"] == "met"
