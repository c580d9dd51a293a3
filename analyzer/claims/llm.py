"""An optional claim extractor that asks a language model, over an OpenAI-compatible API.

Point it at any chat-completions endpoint: a local Ollama (``http://127.0.0.1:11434/v1``), a
llama.cpp server, vLLM, or a hosted service. Nothing in the analyzer needs it; the rules in
:mod:`.extract` are the default. Configuration comes from arguments or the environment:

- ``ANALYZER_LLM_URL``: the API base URL (``.../v1``; ``/chat/completions`` is appended);
- ``ANALYZER_LLM_MODEL``: the model name the server knows;
- ``ANALYZER_LLM_API_KEY``: sent as ``Authorization: Bearer ...`` when set.

Requests go through :class:`~analyzer.ingest.fetch.SafeFetcher` (address checks on every
connection, timeouts, size caps); an endpoint on this machine or a private network needs
``allow_private=True``. The answer must be JSON that validates against
:data:`ANSWER_SCHEMA` exactly; anything else fails the document's extraction with a clear
error and leaves its stored claims and scores as they were. Claims get the same fields as the
rules produce; ``method`` is ``llm:<model>`` and ``extractor_version`` ``llm-1:<model>``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from analyzer.claims.extract import (
    CLAIM_COLUMNS,
    DEFAULT_GROWTH_THRESHOLD,
    _claimed_change,
    _entity_list,
    _published,
    claim_key,
    sentence_hash,
)
from analyzer.claims.vocabulary import HEDGE_ORDER, METRICS
from analyzer.errors import AnalyzerError, InputError

URL_ENV, MODEL_ENV, KEY_ENV = "ANALYZER_LLM_URL", "ANALYZER_LLM_MODEL", "ANALYZER_LLM_API_KEY"
PROMPT_VERSION = "llm-1"
MAX_ANSWER_BYTES = 2 * 1024 * 1024

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["claims"],
    "properties": {
        "claims": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "sentence_id",
                    "metric",
                    "direction",
                    "magnitude_kind",
                    "magnitude_value",
                    "horizon",
                    "hedge",
                    "speaker",
                ],
                "properties": {
                    "sentence_id": {"type": "integer", "minimum": 0},
                    "metric": {"enum": list(METRICS)},
                    "direction": {"enum": ["up", "down"]},
                    "magnitude_kind": {"enum": ["multiplier", "percent", "absolute", "share"]},
                    "magnitude_value": {"type": "number", "exclusiveMinimum": 0},
                    "magnitude_unit": {"type": ["string", "null"], "maxLength": 40},
                    "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"},
                    "per_year": {"type": "boolean"},
                    "baseline_value": {"type": ["number", "null"]},
                    "horizon": {
                        "type": ["string", "null"],
                        "pattern": r"^\d{4}-\d{2}-\d{2}$",
                    },
                    "horizon_text": {"type": ["string", "null"], "maxLength": 120},
                    "hedge": {"enum": list(HEDGE_ORDER)},
                    "speaker": {"enum": ["company", "analyst", "quoted", "writer"]},
                },
            },
        }
    },
}

SYSTEM_PROMPT = """You extract quantified forward-looking claims from news sentences.
A claim puts a number on the future size or change of a measurable quantity: "revenue will
triple by 2026", "a $1 trillion market by 2030", "1000x from here", "10 GW online next year".
Past results, forecasts without a number, and numbers that are only dates are not claims.
Answer with JSON only: {"claims": [...]}, one object per claim, with exactly these keys:
sentence_id (the id given), metric (one of: METRICS), direction ("up"/"down"),
magnitude_kind ("multiplier" for "triple"/"10x", "percent" for a percentage change,
"absolute" for a target level, "share" for a percentage of a total), magnitude_value (3 for
triple, 40 for 40%, 1000000000000 for $1 trillion: base units, not billions),
magnitude_unit (e.g. "USD", "GW", "TWh", "users", "%", "x"), currency (ISO code or null),
per_year (true for "20% a year"), baseline_value (the "from" value or null), horizon (the due
date as YYYY-MM-DD, the last day of the period named, resolved against the publication date;
null when none is stated), horizon_text (the words), hedge (firm for "will", expected for
"expects"/"should", possible for "could"/"may", aspirational for "aims to"/"plans to",
unmarked otherwise), speaker (company, analyst, quoted, writer). No other keys.""".replace(
    "METRICS", ", ".join(METRICS)
)


class LLMError(AnalyzerError):
    """The language-model endpoint failed or gave an answer that does not fit the schema."""


@dataclass
class LLMExtractor:
    """Claims from an OpenAI-compatible chat-completions endpoint.

    >>> extractor = LLMExtractor.from_env(allow_private=True)   # ANALYZER_LLM_URL, _MODEL
    >>> extractor.extract(sentences, documents)                  # the same frame as the rules
    """

    url: str
    model: str
    api_key: str | None = None
    allow_private: bool = False
    timeout: float = 120.0
    batch_size: int = 12
    temperature: float = 0.0
    fetcher: Any = None

    def __post_init__(self) -> None:
        from analyzer.ingest.fetch import FetchRefused, SafeFetcher

        if not self.url or not self.model:
            raise InputError(
                f"LLM extractor: set the endpoint and model (--llm-url/--llm-model or ${URL_ENV}/${MODEL_ENV})"
            )
        endpoint = self.url.rstrip("/")
        if not endpoint.endswith("/chat/completions"):
            endpoint += "/chat/completions"
        try:
            SafeFetcher.check_url(endpoint)
        except FetchRefused as exc:
            raise InputError(f"LLM extractor: {exc}") from None
        self.endpoint = endpoint
        if self.batch_size < 1:
            raise InputError(f"LLM extractor: batch size must be at least 1, got {self.batch_size}")

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMExtractor:
        settings = {
            "url": os.environ.get(URL_ENV, ""),
            "model": os.environ.get(MODEL_ENV, ""),
            "api_key": os.environ.get(KEY_ENV) or None,
        }
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**settings)

    @property
    def method(self) -> str:
        return f"llm:{self.model}"

    @property
    def extractor_version(self) -> str:
        return f"{PROMPT_VERSION}:{self.model}"

    # ----------------------------------------------------------------- requests
    def _fetcher(self) -> Any:
        if self.fetcher is None:
            from analyzer.ingest.fetch import FetcherConfig, SafeFetcher

            config = FetcherConfig(
                read_timeout=self.timeout,
                deadline=self.timeout * 1.5,
                retries=1,
                max_bytes=MAX_ANSWER_BYTES,
            )
            self.fetcher = SafeFetcher(config, allow_private=self.allow_private)
        return self.fetcher

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()
            self.fetcher = None

    def ask(self, sentences: list[tuple[int, str]], published: date) -> list[dict[str, Any]]:
        """Claims (validated answer objects) for ``(sentence_id, text)`` pairs of one document."""
        lines = "\n".join(f"[{i}] {text}" for i, text in sentences)
        payload = {
            "model": self.model,
            "temperature": self.temperature,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Publication date: {published.isoformat()}\nSentences:\n{lines}",
                },
            ],
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        result = self._fetcher().post_json(self.endpoint, payload, headers=headers)
        if not result.ok:
            hint = ""
            if result.status == "refused" and "not public" in (result.error or ""):
                hint = "; a local endpoint needs --allow-private"
            elif result.http_status == 401:
                hint = f"; check the API key (${KEY_ENV})"
            elif result.http_status == 404:
                hint = "; check --llm-url (it should end in /v1) and the model name"
            raise LLMError(f"LLM endpoint {self.endpoint}: {result.error or result.status}{hint}")
        return parse_answer(result.content, {i for i, _ in sentences})

    # ----------------------------------------------------------------- extraction
    def extract(
        self, sentences: Any, documents: Any, *, growth_threshold: float = DEFAULT_GROWTH_THRESHOLD
    ) -> Any:
        """Claims in the same frame as :func:`analyzer.claims.extract.extract_claims`."""
        import pandas as pd

        by_document = {
            int(d.get("document_id", d.get("id"))): d
            for d in (
                documents.rename(columns={"id": "document_id"})
                if "document_id" not in documents.columns
                else documents
            ).to_dict("records")
        }
        rows: list[dict[str, Any]] = []
        chosen: dict[int, list[dict[str, Any]]] = {}
        for record in sentences.to_dict("records"):
            growth = record.get("growth")
            scored = growth is not None and not (isinstance(growth, float) and math.isnan(growth))
            if scored and float(growth) < growth_threshold:
                continue
            if not re.search(r"\d|double|triple|fold|倍|兆|億", str(record["text"]), re.I):
                continue  # no number, no claim: not worth a request
            chosen.setdefault(int(record["document_id"]), []).append(record)
        for document_id, records in chosen.items():
            document = by_document.get(document_id)
            published = _published(document.get("published_at")) if document else None
            if published is None:
                continue
            for start in range(0, len(records), self.batch_size):
                batch = records[start : start + self.batch_size]
                answers = self.ask(
                    [(int(r["sentence_index"]), str(r["text"])) for r in batch], published
                )
                by_index = {int(r["sentence_index"]): r for r in batch}
                counts: dict[int, int] = {}
                for answer in answers:
                    record = by_index[answer["sentence_id"]]
                    claim_index = counts.get(answer["sentence_id"], 0)
                    counts[answer["sentence_id"]] = claim_index + 1
                    rows.append(self._claim_row(answer, record, document, published, claim_index))
        return pd.DataFrame(rows, columns=[*CLAIM_COLUMNS, "magnitude_text"])

    def _claim_row(
        self,
        answer: dict[str, Any],
        record: dict[str, Any],
        document: dict[str, Any],
        published: date,
        claim_index: int,
    ) -> dict[str, Any]:
        text = str(record["text"]).strip()
        sentence_entities = _entity_list(record.get("entity_ids"))
        document_entities = _entity_list(document.get("entity_ids"))
        entity = (sentence_entities or document_entities or [None])[0]
        horizon = answer.get("horizon")
        horizon_error = None
        if horizon:
            try:
                due = date.fromisoformat(horizon)
            except ValueError:
                horizon, horizon_error = (
                    None,
                    f"the model's horizon {answer.get('horizon')!r} is not a date",
                )
            else:
                if due <= published:
                    horizon_error = "the model's horizon is not after the publication date"
        else:
            horizon_error = "no horizon stated"
        years = (
            (date.fromisoformat(horizon) - published).days / 365.25
            if horizon and not horizon_error
            else None
        )
        kind = answer["magnitude_kind"]
        claimed = _claimed_change(
            kind,
            float(answer["magnitude_value"]),
            answer["direction"],
            bool(answer.get("per_year")),
            years,
            answer.get("baseline_value"),
        )
        growth = record.get("growth")
        document_id, sentence_index = int(record["document_id"]), int(record["sentence_index"])
        return {
            "claim_key": claim_key(document_id, sentence_index, claim_index, text),
            "document_id": document_id,
            "sentence_index": sentence_index,
            "claim_index": claim_index,
            "sentence": text,
            "sentence_hash": sentence_hash(text),
            "entity_id": entity,
            "entity_source": "sentence"
            if sentence_entities
            else ("document" if document_entities else None),
            "metric": answer["metric"],
            "metric_text": None,
            "direction": answer["direction"],
            "magnitude_kind": kind,
            "magnitude_value": float(answer["magnitude_value"]),
            "magnitude_unit": "%"
            if kind in ("percent", "share")
            else (answer.get("magnitude_unit") or ("x" if kind == "multiplier" else None)),
            "magnitude_text": None,
            "currency": answer.get("currency"),
            "per_year": bool(answer.get("per_year")),
            "baseline_value": answer.get("baseline_value"),
            "baseline_unit": answer.get("magnitude_unit")
            if answer.get("baseline_value") is not None
            else None,
            "baseline_source": "explicit" if answer.get("baseline_value") is not None else None,
            "claimed_change": claimed,
            "horizon": horizon if not horizon_error else None,
            "horizon_kind": "date" if horizon and not horizon_error else "none",
            "horizon_text": answer.get("horizon_text"),
            "horizon_error": horizon_error,
            "hedge": answer["hedge"],
            "hedge_text": None,
            "speaker": answer["speaker"],
            "speaker_text": None,
            "published_at": published.isoformat(),
            "language": document.get("language"),
            "growth": float(growth)
            if growth is not None and not (isinstance(growth, float) and math.isnan(growth))
            else None,
            "method": self.method,
            "extractor_version": self.extractor_version,
        }


def parse_answer(body: bytes | str, sentence_ids: set[int]) -> list[dict[str, Any]]:
    """The claims of a chat-completions response body, validated against :data:`ANSWER_SCHEMA`."""
    import jsonschema

    try:
        response = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LLMError(f"the endpoint's response is not JSON ({exc})") from None
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMError(
            "the response has no choices[0].message.content; is this a chat-completions endpoint?"
        ) from None
    if not isinstance(content, str):
        raise LLMError("the model's message content is not text")
    text = content.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    if fenced:
        text = fenced[1]
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise LLMError(f"the model's answer is not JSON ({exc}): {text[:120]!r}") from None
    try:
        jsonschema.validate(answer, ANSWER_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise LLMError(
            f"the model's answer does not fit the claim schema at {where}: {exc.message}"
        ) from None
    for claim in answer["claims"]:
        if claim["sentence_id"] not in sentence_ids:
            raise LLMError(
                f"the model's answer names sentence {claim['sentence_id']}, which was not asked about"
            )
    return answer["claims"]
