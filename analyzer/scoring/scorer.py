"""The sentence-level hype/growth/evidence classifier.

A :class:`HypeScorer` is a sentence encoder (mean pooling, L2-normalised, as in
sentence-transformers) followed by a small head with one sigmoid output per label, and one
temperature per label that calibrates those outputs. A saved scorer is a self-contained
directory::

    config.json          labels, base reference, pooling, max_length, method, thresholds,
                         temperatures, trained languages, model_version
    head.safetensors     the head
    adapter/             LoRA weights (method "lora"): adapter_model.safetensors + adapter_config.json
    encoder/             the fine-tuned encoder and its tokenizer (method "full")
    metrics.json         held-out metrics (written by `analyzer evaluate`)
    README.md            the model card

Weights are read only from safetensors files. ``model_version`` is a hash of the weights and of
the configuration that affects outputs, so any retraining or recalibration changes it.

Heavy libraries (torch, transformers, peft) are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import InputError, ModelError
from analyzer.scoring.cache import CacheCounter
from analyzer.scoring.encoder import (
    DEFAULT_BATCH_SIZE,
    SentenceEncoder,
    _quiet_transformers,
    base_fingerprint,
    base_reference,
    length_sorted_batches,
    load_base_encoder,
    resolve_base_path,
    resolve_device,
    resolve_layers,
)
from analyzer.scoring.sentences import DEFAULT_MAX_CHARS, iter_sentences

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from analyzer.scoring.language import LanguageRoute
    from analyzer.scoring.protocols import SentenceCache

log = logging.getLogger(__name__)

LABELS: tuple[str, ...] = ("hype", "growth", "evidence")
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "hype-default"
MODEL_ENV_VAR = "ANALYZER_MODEL"
CONFIG_FORMAT = "analyzer-hype-scorer"
DEFAULT_MAX_SENTENCES = 2000
TOP_K = 3
SHARE_THRESHOLD = 0.5
METHODS = ("head", "lora", "full")
# Configuration keys that describe a model without changing its outputs: not part of its version.
_UNVERSIONED_KEYS = frozenset({"model_version", "model_id", "created_at", "training"})


# --------------------------------------------------------------------------- devices and bases


# --------------------------------------------------------------------------- building blocks


def build_head(
    input_dim: int, hidden: int = 256, dropout: float = 0.1, n_labels: int = len(LABELS)
) -> Any:
    """A linear layer (``hidden == 0``) or a one-hidden-layer MLP with one logit per label."""
    from torch import nn

    if hidden <= 0:
        return nn.Sequential(nn.Linear(input_dim, n_labels))
    return nn.Sequential(
        nn.Linear(input_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_labels)
    )


def lora_target_modules(model: Any) -> list[str]:
    """Attention query/value projection names for common encoder families."""
    from torch import nn

    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
    }
    for pair in (("query", "value"), ("q_proj", "v_proj"), ("q_lin", "v_lin"), ("q", "v")):
        if set(pair) <= names:
            return list(pair)
    raise ModelError(
        f"cannot find attention query/value layers for LoRA among {sorted(names)[:20]}"
    )


def _tensor_digest(digest: Any, prefix: str, state: dict[str, torch.Tensor]) -> None:
    import torch

    for key in sorted(state):
        tensor = state[key].detach().to("cpu").contiguous()
        digest.update(f"{prefix}/{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())


def _versioned_config(config: dict[str, Any]) -> str:
    kept = {k: v for k, v in config.items() if k not in _UNVERSIONED_KEYS}
    return json.dumps(kept, sort_keys=True, ensure_ascii=True, default=str)


# --------------------------------------------------------------------------- aggregation


def aggregate_scores(
    sentence_scores: Sequence[dict[str, Any]],
    labels: Sequence[str] = LABELS,
    *,
    keys: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """Document scores from sentence scores.

    For each label: ``label`` is the mean over sentences, ``label_top`` the mean of the
    ``min(3, n)`` highest sentence probabilities (a document is as hyped as its loudest
    sentences), and ``label_share`` the fraction of sentences with probability above 0.5.
    Sentences without a score are ignored; with none left every value is ``None``. With
    ``keys`` (one per sentence, ``None`` to leave a sentence out), sentences with the same key
    count once: a page that carries its body twice is not twice as loud.
    """
    if keys is not None:
        if len(keys) != len(sentence_scores):
            raise InputError("keys must have one entry per sentence")
        seen: set[str] = set()
        kept = []
        for key, score in zip(keys, sentence_scores):
            if key is None or key in seen:
                continue
            seen.add(key)
            kept.append(score)
        sentence_scores = kept
    result: dict[str, Any] = {}
    for label in labels:
        values = [float(s[label]) for s in sentence_scores if s.get(label) is not None]
        if not values:
            result.update({label: None, f"{label}_top": None, f"{label}_share": None})
            continue
        top = sorted(values, reverse=True)[: min(TOP_K, len(values))]
        result[label] = sum(values) / len(values)
        result[f"{label}_top"] = sum(top) / len(top)
        result[f"{label}_share"] = sum(v > SHARE_THRESHOLD for v in values) / len(values)
    return result


def _empty_scores(labels: Sequence[str]) -> dict[str, Any]:
    return {label: None for label in labels}


# --------------------------------------------------------------------------- the scorer


class HypeScorer:
    """Scores sentences and documents for hype, growth and evidence.

    Usage::

        scorer = HypeScorer.from_pretrained()          # the shipped models/hype-default
        scorer.score("This will change everything!")   # {'hype': 0.97, 'growth': ..., ...}
        scorer.score_document(article_text)["hype_top"]

    Build one with :func:`analyzer.training.train_scorer`, or load a saved directory with
    :meth:`from_pretrained`.
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        head: Any,
        config: dict[str, Any],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        path: Path | None = None,
    ):
        self.encoder = encoder
        self.head = head
        self.config = dict(config)
        self.batch_size = int(batch_size)
        self.path = path
        self.labels: tuple[str, ...] = tuple(self.config.get("labels") or LABELS)
        self.head.to(encoder.device)
        self.head.eval()
        self._version: str | None = None
        # An inference backend from analyzer.scoring.backends (see use_backend); None: plain torch.
        self.backend: Any = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def new(
        cls,
        base: str | os.PathLike[str] | None = None,
        *,
        method: str = "head",
        head_hidden: int = 256,
        head_dropout: float = 0.1,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        languages: Sequence[str] = ("en",),
        multilingual: bool | None = None,
        lora_rank: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.1,
        seed: int = 0,
        layers: str | Sequence[int] | None = None,
    ) -> HypeScorer:
        """An untrained scorer over ``base`` (default: the packaged all-MiniLM-L6-v2).

        ``layers``: which hidden states to pool (see :func:`resolve_layers`; default the last).
        """
        import torch

        if method not in METHODS:
            raise ModelError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        reference = base_reference(base)
        location = resolve_base_path(reference)
        model, tokenizer, max_length = load_base_encoder(reference)
        lora: dict[str, Any] | None = None
        if method == "lora":
            from peft import LoraConfig, get_peft_model

            targets = lora_target_modules(model)
            lora = {
                "r": lora_rank,
                "lora_alpha": lora_alpha,
                "lora_dropout": lora_dropout,
                "target_modules": targets,
            }
            torch.manual_seed(seed)
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore", FutureWarning
                )  # peft probing deprecated transformers helpers
                model = get_peft_model(model, LoraConfig(bias="none", **lora))
        resolved = resolve_device(device)
        pooling_layers = resolve_layers(layers, int(model.config.num_hidden_layers))
        encoder = SentenceEncoder(model, tokenizer, max_length, resolved, pooling_layers)
        torch.manual_seed(seed)
        head = build_head(encoder.dimension, head_hidden, head_dropout, len(LABELS))
        if multilingual is None:
            multilingual = "multilingual" in reference.lower()
        config = {
            "format": CONFIG_FORMAT,
            "format_version": 1,
            "labels": list(LABELS),
            "base": reference,
            "base_fingerprint": base_fingerprint(location),
            "pooling": "mean",
            "normalize": True,
            "pooling_layers": pooling_layers,
            "max_length": max_length,
            "method": method,
            "head": {
                "input_dim": encoder.dimension,
                "hidden": head_hidden,
                "dropout": head_dropout,
            },
            "lora": lora,
            "thresholds": {label: 0.5 for label in LABELS},
            "temperatures": {label: 1.0 for label in LABELS},
            "languages": sorted(set(languages)),
            "multilingual": bool(multilingual),
            "max_sentence_chars": DEFAULT_MAX_CHARS,
        }
        return cls(encoder, head, config, batch_size=batch_size)

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> HypeScorer:
        """Load a saved scorer; ``None`` means ``$ANALYZER_MODEL`` or else the shipped models/hype-default."""
        from safetensors.torch import load_file

        directory = Path(path or os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_DIR).expanduser()
        config_file = directory / "config.json"
        if not config_file.is_file():
            if path is None:
                raise ModelError(
                    f"no shipped model at {directory}; train one with "
                    "`analyzer train corpora/hype --out models/hype-default` or pass --model"
                )
            raise ModelError(f"{directory} is not a saved hype model (config.json missing)")
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {config_file}: {exc}") from exc
        if config.get("format") != CONFIG_FORMAT:
            raise ModelError(f"{config_file} is not a hype scorer configuration")
        method = config.get("method", "head")
        resolved = resolve_device(device)
        _quiet_transformers()
        if method == "full":
            from transformers import AutoModel, AutoTokenizer

            encoder_dir = directory / "encoder"
            if not list(encoder_dir.glob("*.safetensors")):
                raise ModelError(f"{encoder_dir} holds no safetensors weights")
            try:
                tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
                model = AutoModel.from_pretrained(
                    encoder_dir, use_safetensors=True, local_files_only=True
                )
            except (OSError, ValueError) as exc:
                raise ModelError(f"could not load the encoder in {encoder_dir}: {exc}") from exc
        else:
            model, tokenizer, _ = load_base_encoder(config["base"])
            if method == "lora":
                model = _attach_lora(model, directory / "adapter", config.get("lora") or {})
        layers = [int(x) for x in config.get("pooling_layers") or [-1]]
        encoder = SentenceEncoder(
            model, tokenizer, int(config.get("max_length") or 256), resolved, layers
        )
        head_config = config.get("head") or {}
        head = build_head(
            int(head_config.get("input_dim", encoder.dimension)),
            int(head_config.get("hidden", 256)),
            float(head_config.get("dropout", 0.1)),
            len(config.get("labels") or LABELS),
        )
        head_file = directory / "head.safetensors"
        if not head_file.is_file():
            raise ModelError(f"{head_file} is missing")
        try:
            head.load_state_dict(load_file(str(head_file)))
        except RuntimeError as exc:
            raise ModelError(
                f"{head_file} does not match the head described in config.json: {exc}"
            ) from exc
        config.setdefault("model_id", directory.name)
        scorer = cls(encoder, head, config, batch_size=batch_size, path=directory)
        stored = config.get("model_version")
        if stored and stored != scorer.model_version:
            log.warning(
                "%s: config.json says model_version %s but the files hash to %s; using the latter",
                directory,
                stored,
                scorer.model_version,
            )
        return scorer

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write the self-contained model directory; returns its path."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            str(directory / "head.safetensors"),
        )
        method = self.method
        if method == "lora":
            adapter_dir = directory / "adapter"
            adapter_dir.mkdir(exist_ok=True)
            save_file(self._adapter_state(), str(adapter_dir / "adapter_model.safetensors"))
            (adapter_dir / "adapter_config.json").write_text(
                json.dumps({"peft_type": "LORA", **(self.config.get("lora") or {})}, indent=2)
                + "\n"
            )
        elif method == "full":
            encoder_dir = directory / "encoder"
            encoder_dir.mkdir(exist_ok=True)
            state = {
                k: v.detach().cpu().contiguous() for k, v in self.encoder.model.state_dict().items()
            }
            save_file(state, str(encoder_dir / "model.safetensors"), metadata={"format": "pt"})
            model_config = self.encoder.model.config.to_dict()
            model_config.pop("_name_or_path", None)
            (encoder_dir / "config.json").write_text(
                json.dumps(model_config, indent=2, default=str) + "\n"
            )
            self.encoder.tokenizer.save_pretrained(str(encoder_dir))
            _strip_local_paths(encoder_dir)
        self._version = None
        self.config["model_version"] = self.model_version
        self.config.setdefault("model_id", directory.name)
        (directory / "config.json").write_text(
            json.dumps(self.config, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8",
        )
        if not (directory / "README.md").exists():
            (directory / "README.md").write_text(
                f"# {directory.name}\n\nHype/growth/evidence sentence classifier ({method}, base "
                f"`{self.config['base']}`). Not evaluated yet: run `analyzer evaluate {directory.name} DATA "
                "--update-card` to fill in this card.\n",
                encoding="utf-8",
            )
        self.path = directory
        return directory

    # ----------------------------------------------------------------- identity
    @property
    def method(self) -> str:
        return str(self.config.get("method", "head"))

    @property
    def model_id(self) -> str:
        return str(self.config.get("model_id") or (self.path.name if self.path else "hype-unsaved"))

    @property
    def languages(self) -> list[str]:
        return list(self.config.get("languages") or [])

    @property
    def multilingual(self) -> bool:
        return bool(self.config.get("multilingual"))

    @property
    def device(self) -> str:
        return self.encoder.device

    @property
    def temperatures(self) -> list[float]:
        temps = self.config.get("temperatures") or {}
        return [float(temps.get(label, 1.0)) for label in self.labels]

    @property
    def thresholds(self) -> list[float]:
        values = self.config.get("thresholds") or {}
        return [float(values.get(label, 0.5)) for label in self.labels]

    def set_temperatures(self, temperatures: Sequence[float]) -> None:
        self.config["temperatures"] = {
            label: float(t) for label, t in zip(self.labels, temperatures)
        }
        self._version = None

    @property
    def model_version(self) -> str:
        """Hash of the weights (head, adapter or encoder, base fingerprint) and the output-relevant config."""
        if self._version is None:
            digest = hashlib.sha256(_versioned_config(self.config).encode())
            _tensor_digest(digest, "head", self.head.state_dict())
            if self.method == "lora":
                _tensor_digest(digest, "adapter", self._adapter_state())
            elif self.method == "full":
                _tensor_digest(digest, "encoder", self.encoder.model.state_dict())
            self._version = digest.hexdigest()[:16]
        return self._version

    def invalidate_version(self) -> None:
        """Call after changing weights in place (training does)."""
        self._version = None

    def use_backend(self, name: str | None = "auto", **options: Any) -> Any:
        """Compute logits with a fast backend: ``auto``, ``torch``, ``onnx`` or ``onnx-int8``.

        See :mod:`analyzer.scoring.backends`; ``None`` goes back to plain torch. Returns the backend.
        """
        if name is None:
            self.backend = None
            return None
        from analyzer.scoring.backends import create_backend

        self.backend = create_backend(self, name, **options)
        return self.backend

    def _adapter_state(self) -> dict[str, torch.Tensor]:
        from peft import get_peft_model_state_dict

        model = self.encoder.model
        if hasattr(model, "peft_config"):
            return {
                k: v.detach().cpu().contiguous()
                for k, v in get_peft_model_state_dict(model).items()
            }
        stored = getattr(model, "_analyzer_adapter_state", None)
        if stored is None:
            raise ModelError("this LoRA scorer has no adapter weights")
        return stored

    def supports_language(self, language: str | None) -> bool:
        """Undetermined text is scored; a known language must be one the model was trained on."""
        if self.multilingual or not language or language == "und":
            return True
        return language in self.languages

    def route_language(self, text: str, *, default: str | None = None) -> LanguageRoute:
        """The language ``text`` is scored as by this model, or why it is not (see
        :func:`analyzer.scoring.language.route_language`)."""
        from analyzer.scoring.language import route_language

        return route_language(
            text, self.languages or ["en"], default=default, any_language=self.multilingual
        )

    # ----------------------------------------------------------------- sentence scoring
    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits (n, labels) for non-empty sentences."""
        import numpy as np
        import torch

        if self.backend is not None:
            return self.backend.logits(texts)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not texts:
            return out
        self.head.eval()
        self.encoder.model.eval()
        with torch.inference_mode():
            for indices in length_sorted_batches(texts, self.batch_size):
                batch = self.encoder.tokenize([texts[i] for i in indices])
                pooled = self.encoder.pooled(batch)
                out[indices] = self.head(pooled).float().cpu().numpy()
        return out

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities (n, labels): sigmoid(logit / temperature)."""
        import numpy as np

        logits = self.logits(texts).astype(np.float64)
        return 1.0 / (1.0 + np.exp(-logits / np.asarray(self.temperatures)))

    def score(
        self, texts: str | Sequence[str], *, language: str | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Per-label probabilities for one sentence (a dict) or several (a list of dicts).

        Each result holds ``hype``, ``growth``, ``evidence`` and ``unscored``. An empty or
        blank string is not scored (``None`` values, ``unscored: True``). Sentences are not
        language-checked unless ``language`` is given: then an unsupported language leaves
        every sentence unscored.
        """
        single = isinstance(texts, str)
        items = [texts] if single else _as_text_list(texts)
        skip_all = language is not None and not self.supports_language(language)
        todo = [i for i, t in enumerate(items) if t.strip() and not skip_all]
        probs = self.probabilities([items[i].strip() for i in todo]) if todo else None
        results = [{**_empty_scores(self.labels), "unscored": True} for _ in items]
        for row, i in enumerate(todo):
            results[i] = {label: float(probs[row, j]) for j, label in enumerate(self.labels)}
            results[i]["unscored"] = False
        return results[0] if single else results

    def sentence_scores(self, sentences: Sequence[str]) -> list[dict[str, float]]:
        """Probabilities for already split sentences, each distinct sentence computed once."""
        unique = list(dict.fromkeys(sentences))
        probs = self.probabilities(unique) if unique else None
        by_text = {
            text: {label: float(probs[row, j]) for j, label in enumerate(self.labels)}
            for row, text in enumerate(unique)
        }
        return [dict(by_text[s]) for s in sentences]

    # ----------------------------------------------------------------- documents
    def prepare_document(
        self,
        text: str,
        *,
        language: str | None = None,
        max_sentences: int | None = DEFAULT_MAX_SENTENCES,
    ) -> dict[str, Any]:
        """Split a document, name each segment's kind and decide what can be scored (no model call).

        Returns ``sentences`` (at most ``max_sentences``), their ``kinds``
        (:mod:`analyzer.scoring.segments`), ``scorable`` (per segment: prose in a language the
        model handles), ``n_sentences_total``, ``language`` and ``reason`` (why the document is
        unscored, else ``None``).

        Language: the document's is routed from its text (:meth:`route_language`; a given
        ``language`` is the default when the text cannot tell, e.g. a short record). A segment
        in another script than the document's (a Japanese quote in an English article) is
        routed on its own, with the document's language as its default when short.
        """
        if not isinstance(text, str):
            raise InputError(f"document text must be a string, got {type(text).__name__}")
        from analyzer.scoring.language import script_of
        from analyzer.scoring.segments import is_prose, segment_kinds

        sentences: list[str] = []
        total = 0
        limit = max_sentences if max_sentences and max_sentences > 0 else None
        for sentence in iter_sentences(
            text, max_chars=int(self.config.get("max_sentence_chars") or DEFAULT_MAX_CHARS)
        ):
            total += 1
            if limit is None or len(sentences) < limit:
                sentences.append(sentence)
        kinds = segment_kinds(sentences)
        prose = [is_prose(kind) for kind in kinds]
        route = self.route_language(text, default=language)
        scorable = list(prose)
        if route.scorable and any(prose):
            for index, sentence in enumerate(sentences):
                if prose[index] and not sentence.isascii():
                    script, _ = script_of(sentence)
                    if script not in (route.script, "none"):
                        scorable[index] = self.route_language(
                            sentence, default=route.language
                        ).scorable
        reason = None
        if not sentences:
            reason = "no text"
        elif not route.scorable:
            reason = route.reason
        elif not any(prose):
            reason = "no prose (only " + ", ".join(sorted(set(kinds))) + ")"
        elif not any(scorable):
            reason = "no prose in a language the model handles"
        return {
            "sentences": sentences,
            "kinds": kinds,
            "scorable": scorable,
            "n_sentences_total": total,
            "language": route.language,
            "reason": reason,
        }

    def finish_document(
        self, prepared: dict[str, Any], sentence_scores: Sequence[dict[str, Any] | None] | None
    ) -> dict[str, Any]:
        """Document result from a prepared document and its sentences' scores (None when unscored).

        ``sentence_scores`` has one entry per sentence (``None`` for a segment not scored).
        Aggregates cover scored prose only, identical segments once
        (:func:`analyzer.scoring.segments.aggregate_key`).
        """
        from analyzer.scoring.segments import aggregate_key

        sentences = prepared["sentences"]
        kinds = prepared.get("kinds") or ["prose"] * len(sentences)
        reason = prepared["reason"]
        if reason is not None or sentence_scores is None:
            scored = [
                {"text": s, "kind": k, **_empty_scores(self.labels)}
                for s, k in zip(sentences, kinds)
            ]
            document = aggregate_scores([], self.labels)
            n_prose = 0
        else:
            scored = []
            for s, k, sc in zip(sentences, kinds, sentence_scores):
                values = (
                    {label: sc[label] for label in self.labels}
                    if sc
                    else _empty_scores(self.labels)
                )
                scored.append({"text": s, "kind": k, **values})
            keys = [aggregate_key(s) if sc else None for s, sc in zip(sentences, sentence_scores)]
            document = aggregate_scores(
                [sc or {} for sc in sentence_scores], self.labels, keys=keys
            )
            n_prose = len({k for k in keys if k is not None})
        document.update(
            n_sentences=len(sentences),
            n_sentences_total=prepared["n_sentences_total"],
            n_prose=n_prose,
            truncated=prepared["n_sentences_total"] > len(sentences),
            language=prepared["language"],
            unscored=reason is not None,
            reason=reason,
            sentences=scored,
        )
        return document

    def score_documents(
        self,
        texts: Iterable[str],
        *,
        languages: Sequence[str | None] | None = None,
        max_sentences: int | None = DEFAULT_MAX_SENTENCES,
        cache: SentenceCache | None = None,
        counter: CacheCounter | None = None,
    ) -> list[dict[str, Any]]:
        """Score several documents, batching all their sentences together (see :meth:`score_document`).

        This is the one scoring loop: the database, ``analyzer score --input`` and Ray all call it.
        With a ``cache`` (an in-memory LRU, the database's score cache, see
        :mod:`analyzer.scoring.cache`), sentences already scored by this model version are not
        computed again; ``counter`` tallies cached against computed sentences. Only prose
        segments in a language the model handles are scored; the others come back with their
        ``kind`` and ``None`` scores.
        """
        texts = list(texts)
        langs = list(languages) if languages is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise InputError("languages must have one entry per document")
        prepared = [
            self.prepare_document(t, language=lang, max_sentences=max_sentences)
            for t, lang in zip(texts, langs)
        ]
        wanted = [
            s
            for p in prepared
            if p["reason"] is None
            for s, ok in zip(p["sentences"], p["scorable"])
            if ok
        ]
        by_sentence = self._scores_for(wanted, cache, counter)
        results = []
        for p in prepared:
            if p["reason"] is None:
                scores = [
                    dict(by_sentence[s]) if ok else None
                    for s, ok in zip(p["sentences"], p["scorable"])
                ]
                results.append(self.finish_document(p, scores))
            else:
                results.append(self.finish_document(p, None))
        return results

    def _scores_for(
        self, sentences: Sequence[str], cache: SentenceCache | None, counter: CacheCounter | None
    ) -> dict[str, dict[str, float]]:
        """Scores of each distinct sentence: from the cache where it has them, else computed."""
        from analyzer.storage import content_hash

        keys = {s: content_hash(s) for s in dict.fromkeys(sentences)}
        found = cache.get_many(list(dict.fromkeys(keys.values()))) if cache is not None else {}
        missing = [s for s, k in keys.items() if k not in found]
        computed = self.sentence_scores(missing) if missing else []
        fresh = {
            keys[s]: tuple(score[label] for label in self.labels)
            for s, score in zip(missing, computed)
        }
        if cache is not None and fresh:
            cache.put_many(fresh)
        if counter is not None:
            counter.computed += len(fresh)
            counter.cached += len(sentences) - len(fresh)
        values = {**found, **fresh}
        return {s: dict(zip(self.labels, values[k])) for s, k in keys.items()}

    def score_document(
        self,
        text: str,
        *,
        language: str | None = None,
        max_sentences: int | None = DEFAULT_MAX_SENTENCES,
    ) -> dict[str, Any]:
        """Scores for a whole document, sentence by sentence (nothing is lost to the token limit).

        The text is split with :func:`analyzer.scoring.sentences.split_sentences` and every sentence is
        scored. Document values per label: ``label`` = mean over sentences, ``label_top`` = mean
        of the top ``min(3, n)`` sentences, ``label_share`` = share of sentences above 0.5.

        Language is detected per document (or taken from ``language``); a language the model
        was not trained on (config ``languages``), unless the base is multilingual, gives
        ``unscored: True``, a ``reason`` and ``None`` scores, never neutral-looking numbers.

        Very long documents: only the first ``max_sentences`` sentences (default 2,000; ``None``
        for no limit) are scored; ``n_sentences_total`` counts them all and ``truncated`` says
        whether the cap applied. The result also lists ``sentences`` with each one's scores.
        """
        return self.score_documents([text], languages=[language], max_sentences=max_sentences)[0]

    def __repr__(self) -> str:
        return (
            f"HypeScorer(model_id={self.model_id!r}, method={self.method!r}, base={self.config.get('base')!r}, "
            f"device={self.device!r}, version={self.model_version!r})"
        )


def _as_text_list(texts: Any) -> list[str]:
    if isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise InputError(f"expected a string or a list of strings, got {type(texts).__name__}")
    items = list(texts)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(f"item {i} is {type(item).__name__}, expected a string")
    return items


def _attach_lora(model: Any, adapter_dir: Path, lora: dict[str, Any]) -> Any:
    """Apply saved LoRA weights (safetensors) to the base model and merge them for fast inference."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{weights} is missing")
    settings = dict(lora)
    config_file = adapter_dir / "adapter_config.json"
    if not settings and config_file.is_file():
        settings = {
            k: v for k, v in json.loads(config_file.read_text()).items() if k != "peft_type"
        }
    state = load_file(str(weights))
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", FutureWarning
        )  # peft probing deprecated transformers helpers
        peft_model = get_peft_model(model, LoraConfig(bias="none", **settings))
    result = set_peft_model_state_dict(peft_model, state)
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise ModelError(f"{weights} has weights the adapter does not expect: {unexpected[:3]}")
    merged = peft_model.merge_and_unload()
    merged._analyzer_adapter_state = state  # kept for model_version after merging
    return merged


def _strip_local_paths(directory: Path) -> None:
    """Tokenizer configs may record where they were loaded from; that path is this machine's, drop it."""
    for name in ("tokenizer_config.json", "config.json"):
        file = directory / name
        if not file.is_file():
            continue
        data = json.loads(file.read_text(encoding="utf-8"))
        changed = False
        for key in ("name_or_path", "_name_or_path"):
            if key in data and isinstance(data[key], str) and os.path.isabs(data[key]):
                data.pop(key)
                changed = True
        if changed:
            file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
