"""Scoring benchmark: the same sentences through every inference path, measured fairly.

Paths (all end in the same head and temperatures, so their probabilities are comparable):

``naive``                  transformers ``pipeline("feature-extraction")``, one text per call,
                           mean pooling and the head in torch
``sentence-transformers``  ``SentenceTransformer.encode`` (batch 32) and the head
``default``                what ``analyzer score`` uses: ``scorer.use_backend("auto")``
``torch``                  the torch backend (length-sorted dynamic batches, inference mode)
``onnx``                   the ONNX Runtime fp32 backend
``onnx-int8``              the ONNX Runtime int8 backend
``reference``              ``HypeScorer.probabilities`` in plain fp32 torch: the yardstick for
                           agreement (it is timed too)

End to end. With ``end_to_end`` the same sentences also go through ``analyzer score --input
FILE.jsonl --output OUT.jsonl`` (one record per sentence, a fresh process each time: reading,
splitting, segment kinds, language routing, the sentence cache, the model and writing). Each
round runs it once on a one-record file and once on the full file; the marginal throughput is
``(n - 1) / (median full - median one-record)``, so interpreter start-up and model loading
cancel out. Several checkouts of the project (e.g. the previous commit) can be timed in the same
rounds, which is the only fair before/after on a shared machine.

Method. The ONNX exports are built first (or found in the cache). Each path then runs in its
own worker process, started one after another (so load times are not inflated by each other),
which loads the model, prepares the path and warms up on a few sentences. Then the parent runs ``repeats`` rounds; in each round
every path scores all sentences once, one path at a time, in a rotating order, so slow drifts
of the machine (other load, thermal state) hit every path alike. Throughput is sentences (and
real, unpadded tokens) divided by the median round time: model loading, export and warm-up are
excluded and reported separately. Peak RSS is each worker's own ``ru_maxrss`` (the whole
process: interpreter, libraries, model and the scoring run). Agreement: maximum absolute
probability difference to the reference path and the share of (sentence, label) decisions at
0.5 that match it.

Hardware ceiling. On a CPU the parent also times one fp32 matrix product of the encoder's
feed-forward shape on one thread (``gemm_peak_gflops``), and the reference worker counts the
encoder's weight multiply-adds per token. Each path's useful GFLOP/s is then its tokens/s times
that count, and its share of the machine's fp32 GEMM rate (peak per core times physical cores)
says how close it runs to the hardware. Because no fp32 path can exceed 100%, the naive path's
share bounds every fp32 path's "x naive": a naive path that already runs at a third of the peak
leaves at most 3x.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analyzer.errors import InputError, ModelError

PATHS = ("naive", "sentence-transformers", "default", "torch", "onnx", "onnx-int8")
REFERENCE = "reference"
DESCRIPTIONS = {
    "naive": "transformers pipeline, one text per call + mean pooling + head",
    "sentence-transformers": "SentenceTransformer.encode (batch 32) + head",
    "default": "analyzer's default path (backend auto)",
    "torch": "torch backend: length-sorted dynamic batches, inference_mode",
    "onnx": "ONNX Runtime fp32",
    "onnx-int8": "ONNX Runtime int8 (smoothed dynamic quantisation)",
    REFERENCE: "HypeScorer.probabilities, plain fp32 torch (agreement reference)",
}
WARMUP_SENTENCES = 32
# Rows x inner x outer of the ceiling probe: 16 sentences of 40 tokens through a 384 -> 1536
# feed-forward projection, the shape the encoders' batched paths spend most time in.
GEMM_PROBE_SHAPE = (640, 384, 1536)
DEFAULT_REPEATS = 3

ProgressCallback = Callable[[str], None]


# --------------------------------------------------------------------------- sentences


def read_sentences(
    path: str | os.PathLike[str], limit: int | None = None, *, text_field: str = "text"
) -> list[str]:
    """Sentences from a JSONL file (``text`` field) or a text file (one per line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    sentences: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
                text = value.get(text_field) if isinstance(value, dict) else None
                if not isinstance(text, str) or not text.strip():
                    continue
                line = text.strip()
            sentences.append(line)
            if limit is not None and len(sentences) >= limit:
                break
    if not sentences:
        raise InputError(f"{path} holds no sentences")
    return sentences


# --------------------------------------------------------------------------- the worker side


def _sigmoid_probabilities(logits: Any, temperatures: Sequence[float]) -> Any:
    import numpy as np

    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64) / np.asarray(temperatures)))


def load_scorer(model: str | os.PathLike[str] | None, device: str) -> Any:
    from analyzer.scoring.backends import configure_torch_threads
    from analyzer.scoring.scorer import HypeScorer

    configure_torch_threads()
    return HypeScorer.from_pretrained(model, device=device)


def build_path(name: str, scorer: Any) -> tuple[Callable[[list[str]], Any], dict[str, Any]]:
    """(probabilities function, details) for one path over a loaded scorer (left unchanged)."""
    import copy

    details: dict[str, Any] = {"device": scorer.device}

    if name == REFERENCE:
        plain = copy.copy(scorer)
        plain.backend = None
        return plain.probabilities, details

    if name in ("default", "torch", "onnx", "onnx-int8"):
        # A shallow copy shares the encoder and head but has its own backend.
        fast = copy.copy(scorer)
        backend = fast.use_backend("auto" if name == "default" else name)
        details.update(backend.describe())
        return fast.probabilities, details

    if name == "naive":
        return _naive_path(scorer), details

    if name == "sentence-transformers":
        return _sentence_transformers_path(scorer), details

    raise InputError(f"unknown benchmark path {name!r}; use {', '.join((*PATHS, REFERENCE))}")


def _head_probabilities(scorer: Any, embeddings: Any) -> Any:
    """The scorer's head and temperatures over embeddings a path computed its own way."""
    import numpy as np
    import torch

    with torch.inference_mode():
        tensor = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32, device=scorer.device)
        logits = scorer.head(tensor).float().cpu().numpy()
    return _sigmoid_probabilities(logits, scorer.temperatures)


def _naive_path(scorer: Any) -> Callable[[list[str]], Any]:
    """The transformers feature-extraction pipeline, one text per call, mean-pooled."""
    import numpy as np
    import torch
    from transformers import pipeline

    from analyzer.scoring.encoder import pool_hidden_states

    extractor = pipeline(
        "feature-extraction",
        model=scorer.encoder.model,
        tokenizer=scorer.encoder.tokenizer,
        device=torch.device(scorer.device),
    )
    tokenize = {"truncation": True, "max_length": scorer.encoder.max_length}
    layers = scorer.encoder.layers

    def naive(texts: list[str]) -> Any:
        rows = []
        for text in texts:
            if layers == [-1]:
                hidden = extractor(text, return_tensors=True, tokenize_kwargs=tokenize)[0]
                mean = hidden.float().mean(dim=0)
                rows.append(torch.nn.functional.normalize(mean, p=2, dim=-1).cpu().numpy())
                continue
            # The pipeline returns the last layer only; a head over several layers needs
            # them all, so the same one-text-per-call work goes through the model directly.
            inputs = extractor.tokenizer(text, return_tensors="pt", **tokenize).to(scorer.device)
            with torch.inference_mode():
                output = extractor.model(**inputs, output_hidden_states=True)
            pooled = pool_hidden_states(output.hidden_states, inputs["attention_mask"], layers)
            rows.append(pooled[0].float().cpu().numpy())
        return _head_probabilities(scorer, np.stack(rows))

    return naive


def _sentence_transformers_path(scorer: Any) -> Callable[[list[str]], Any]:
    """SentenceTransformer over the scorer's encoder, in batches of 32."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from analyzer.scoring.encoder import pool_hidden_states, resolve_base_path

    encoder = SentenceTransformer(
        resolve_base_path(scorer.config["base"]), device=scorer.device, local_files_only=True
    )
    if scorer.method != "head":
        # A fine-tuned encoder lives in the scorer, not in the base directory.
        encoder[0].auto_model = scorer.encoder.model
    encoder.max_seq_length = scorer.encoder.max_length

    layers = scorer.encoder.layers
    if layers != [-1]:
        encoder[0].auto_model.config.output_hidden_states = True

    def sentence_transformers(texts: list[str]) -> Any:
        if layers == [-1]:
            embeddings = encoder.encode(
                texts,
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return _head_probabilities(scorer, embeddings)
        # encode() pools only the last layer, so for a head over several layers the batches go
        # through SentenceTransformer's own tokenize and forward, which return every layer.
        rows = []
        for start in range(0, len(texts), 32):
            prepare = getattr(encoder, "preprocess", None) or encoder.tokenize
            features = prepare(texts[start : start + 32])
            features = {k: v.to(scorer.device) for k, v in features.items() if hasattr(v, "to")}
            with torch.inference_mode():
                output = encoder.forward(features)
            pooled = pool_hidden_states(
                output["all_layer_embeddings"], output["attention_mask"], layers
            )
            rows.append(pooled.float().cpu().numpy())
        return _head_probabilities(scorer, np.concatenate(rows))

    return sentence_transformers


def _token_count(scorer: Any, texts: Sequence[str]) -> int:
    encoded = scorer.encoder.tokenizer(
        list(texts), truncation=True, max_length=scorer.encoder.max_length
    )
    return sum(len(ids) for ids in encoded["input_ids"])


def encoder_flops_per_token(scorer: Any) -> int:
    """Floating-point operations per token in the encoder's weight matrices (2 per multiply-add).

    Attention score products and element-wise work are left out: this is the work that a
    faster kernel cannot avoid, the numerator of a path's share of the GEMM peak.
    """
    import torch

    return 2 * sum(
        module.weight.numel()
        for module in scorer.encoder.model.modules()
        if isinstance(module, torch.nn.Linear)
    )


def gemm_peak_gflops(seconds: float = 1.0, shape: tuple[int, int, int] = GEMM_PROBE_SHAPE) -> float:
    """fp32 GFLOP/s of one thread on a repeated ``rows x inner @ inner x outer`` torch product."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows, inner, outer = shape
        left, right = torch.randn(rows, inner), torch.randn(inner, outer)
        for _ in range(3):
            left @ right
        count, begin = 0, time.perf_counter()
        while time.perf_counter() - begin < seconds:
            left @ right
            count += 1
        elapsed = time.perf_counter() - begin
    finally:
        torch.set_num_threads(previous)
    return 2 * rows * inner * outer * count / elapsed / 1e9


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 1024 if sys.platform != "darwin" else peak / 2**20, 1)


def worker_main(argv: Sequence[str]) -> int:
    """Serve one path: load, warm up, then answer ``run`` / ``result`` / ``quit`` lines on stdin."""
    import argparse

    import numpy as np

    parser = argparse.ArgumentParser(prog="analyzer.scoring.benchmark")
    parser.add_argument("--path", required=True)
    parser.add_argument("--model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sentences")
    parser.add_argument("--out")
    parser.add_argument(
        "--prepare", action="store_true", help="only build the ONNX exports, then exit"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.prepare:
        from analyzer.scoring.backends import ensure_onnx_model

        scorer = load_scorer(args.model, args.device)
        for quantized in (False, True):
            ensure_onnx_model(scorer, quantized=quantized)
        return 0
    texts = json.loads(Path(args.sentences).read_text(encoding="utf-8"))

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    started = time.perf_counter()
    try:
        scorer = load_scorer(args.model, args.device)
        probabilities, details = build_path(args.path, scorer)
        load_seconds = time.perf_counter() - started
        probabilities(texts[:WARMUP_SENTENCES])
    except Exception as exc:  # reported to the parent, which names the failing path
        reply({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    tokens = _token_count(scorer, texts) if args.path == REFERENCE else 0
    reply(
        {
            "ready": True,
            "load_seconds": round(load_seconds, 3),
            "tokens": tokens,
            "flops_per_token": encoder_flops_per_token(scorer) if args.path == REFERENCE else 0,
            "model_id": scorer.model_id,
            "model_version": scorer.model_version,
            **details,
        }
    )
    result = None
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            begin = time.perf_counter()
            result = probabilities(texts)
            reply({"seconds": time.perf_counter() - begin})
        elif command == "result":
            np.save(args.out, np.asarray(result, dtype=np.float64))
            reply({"saved": args.out, "peak_rss_mb": _peak_rss_mb()})
        elif command == "quit":
            break
    return 0


# --------------------------------------------------------------------------- the parent side


class _Worker:
    def __init__(
        self, name: str, model: str | None, device: str, sentences_file: Path, out_dir: Path
    ):
        self.name = name
        self.out = out_dir / f"{name}.npy"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        command = [
            sys.executable,
            "-m",
            "analyzer.scoring.benchmark",
            "--path",
            name,
            "--device",
            device,
            "--sentences",
            str(sentences_file),
            "--out",
            str(self.out),
        ]
        if model:
            command += ["--model", str(model)]
        # stderr goes to a file: a pipe nobody reads could fill up and block the worker.
        self.stderr_file = out_dir / f"{name}.stderr"
        with open(self.stderr_file, "w", encoding="utf-8") as stderr:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                self.process.wait()
                error = self.stderr_file.read_text(encoding="utf-8", errors="replace")
                raise ModelError(
                    f"benchmark path {self.name!r} exited unexpectedly: {error.strip()[-2000:]}"
                )
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # a library printed to stdout
            if isinstance(message, dict):
                break
        if "error" in message:
            raise ModelError(f"benchmark path {self.name!r} failed: {message['error']}")
        return message

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


class _InProcess:
    """The same protocol as :class:`_Worker`, in this process, sharing one loaded scorer."""

    def __init__(self, name: str, scorer: Any, texts: list[str]):
        self.name = name
        self.texts = texts
        self.output: Any = None
        peak_before = _peak_rss_mb()
        started = time.perf_counter()
        self.probabilities, details = build_path(name, scorer)
        self.probabilities(texts[:WARMUP_SENTENCES])
        self.ready = {
            "ready": True,
            "load_seconds": round(time.perf_counter() - started, 3),
            "tokens": _token_count(scorer, texts) if name == REFERENCE else 0,
            "flops_per_token": encoder_flops_per_token(scorer) if name == REFERENCE else 0,
            "model_id": scorer.model_id,
            "model_version": scorer.model_version,
            **details,
        }
        self.peak_growth = _peak_rss_mb() - peak_before

    def receive(self) -> dict[str, Any]:
        return self.ready

    def ask(self, command: str) -> dict[str, Any]:
        if command == "run":
            begin = time.perf_counter()
            self.output = self.probabilities(self.texts)
            return {"seconds": time.perf_counter() - begin}
        if command == "result":
            # Peaks in one process are shared: only the growth while this path was set up is its own.
            return {
                "peak_rss_mb": None,
                "peak_growth_mb": round(self.peak_growth, 1),
                "probabilities": self.output,
            }
        raise ValueError(command)

    def close(self) -> None:
        self.output = None


def _prepare_exports(model: str | os.PathLike[str] | None, device: str) -> None:
    command = [
        sys.executable,
        "-m",
        "analyzer.scoring.benchmark",
        "--path",
        REFERENCE,
        "--device",
        device,
        "--prepare",
    ]
    if model:
        command += ["--model", str(model)]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    if done.returncode != 0:
        raise ModelError(f"could not export the ONNX files: {done.stderr.strip()[-2000:]}")


def _write_records(path: Path, texts: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for index, text in enumerate(texts):
            handle.write(json.dumps({"id": index, "text": text}, ensure_ascii=False) + "\n")


def cli_seconds(
    checkout: str | os.PathLike[str],
    input_file: Path,
    output_file: Path,
    *,
    model: str | os.PathLike[str] | None,
    device: str,
) -> float:
    """Wall time of ``analyzer score --input`` run from ``checkout`` (a fresh process)."""
    checkout = Path(checkout).resolve()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(checkout),
    }
    command = [
        sys.executable,
        "-m",
        "analyzer",
        "score",
        "--input",
        str(input_file),
        "--output",
        str(output_file),
        "--device",
        device,
        "--no-resume",
        "--json",
    ]
    if not model:  # every checkout scores with this project's model, so only the code differs
        from analyzer.scoring.scorer import DEFAULT_MODEL_DIR, MODEL_ENV_VAR

        model = os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_DIR
    command += ["--model", str(Path(model).resolve())]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise ModelError(f"analyzer score from {checkout} failed: {done.stderr.strip()[-2000:]}")
    output_file.unlink(missing_ok=True)
    return seconds


def machine_info() -> dict[str, Any]:
    import numpy
    import onnxruntime
    import torch
    import transformers

    from analyzer.scoring.backends import physical_cores

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        load = os.getloadavg()
        info["load_average_at_start"] = [round(x, 2) for x in load]
    except OSError:
        pass
    return info


def run_benchmark(
    sentences: Sequence[str],
    *,
    model: str | os.PathLike[str] | None = None,
    paths: Sequence[str] = PATHS,
    repeats: int = DEFAULT_REPEATS,
    device: str = "cpu",
    source: str | None = None,
    isolate: bool = True,
    progress: ProgressCallback | None = None,
    end_to_end: dict[str, str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """Run every path on ``sentences`` (see the module docstring for the method); returns the results.

    ``isolate=False`` runs every path in this process over one loaded model (much quicker to
    start; peak RSS is then only reported as each path's growth of the process peak).
    ``end_to_end``: label -> project checkout whose ``analyzer score --input`` is timed in the
    same rounds (marginal throughput, see the module docstring).
    """
    texts = [s for s in sentences if isinstance(s, str) and s.strip()]
    if not texts:
        raise InputError("the benchmark needs at least one sentence")
    if repeats < 1:
        raise InputError("repeats must be at least 1")
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        raise InputError(f"unknown benchmark path(s) {', '.join(unknown)}; use {', '.join(PATHS)}")
    names = [REFERENCE, *[p for p in paths if p != REFERENCE]]
    say = progress or (lambda _message: None)
    results = _benchmark_header(texts, device, repeats, source, isolate)
    with tempfile.TemporaryDirectory(prefix="analyzer-bench-") as work:
        work_dir = Path(work)
        sentences_file = work_dir / "sentences.json"
        sentences_file.write_text(json.dumps(texts), encoding="utf-8")
        records = {"one": work_dir / "one-record.jsonl", "full": work_dir / "records.jsonl"}
        _write_records(records["full"], texts)
        _write_records(records["one"], texts[:1])
        e2e: dict[str, dict[str, list[float]]] = {
            label: {"one": [], "full": []} for label in (end_to_end or {})
        }
        workers: dict[str, Any] = {}
        shared = None if isolate else load_scorer(model, device)
        if isolate and any(name in ("default", "onnx", "onnx-int8") for name in names):
            # Exports happen once, beforehand, so that no path's load time or peak RSS includes them.
            say("exporting ONNX files (cached after the first run)")
            _prepare_exports(model, device)
        try:
            for name in names:
                say(f"loading {name}")
                if shared is not None:
                    worker: Any = _InProcess(name, shared, texts)
                else:
                    worker = _Worker(
                        name, str(model) if model else None, device, sentences_file, work_dir
                    )
                workers[name] = worker
                _record_ready(results, name, worker.receive(), len(texts))
            if not device.startswith(("cuda", "mps")):
                # Measured while every worker waits idle, so nothing competes for the core.
                say("timing the fp32 GEMM ceiling")
                results["machine"]["fp32_gemm_gflops_per_core"] = round(gemm_peak_gflops(), 1)
            for round_number in range(repeats):
                for name in _rotated(names, round_number):
                    say(f"round {round_number + 1}/{repeats}: {name}")
                    results["paths"][name]["seconds"].append(
                        round(workers[name].ask("run")["seconds"], 4)
                    )
                for label in _rotated(list(e2e), round_number):
                    assert end_to_end is not None
                    for size, file in records.items():
                        say(
                            f"round {round_number + 1}/{repeats}: analyzer score --input ({label}, {size})"
                        )
                        seconds = cli_seconds(
                            end_to_end[label],
                            file,
                            work_dir / "scored.jsonl",
                            model=model,
                            device=device,
                        )
                        e2e[label][size].append(round(seconds, 3))
            outputs = _collect_outputs(workers, results)
        finally:
            for worker in workers.values():
                worker.close()
    try:
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    _summarise_paths(results, outputs, len(texts))
    if e2e:
        results["end_to_end"] = _summarise_end_to_end(e2e, end_to_end, device, len(texts))
    if "naive" in results["paths"]:
        base = results["paths"]["naive"]["sentences_per_s"]
        for entry in [*results["paths"].values(), *results.get("end_to_end", {}).values()]:
            if entry.get("sentences_per_s"):
                entry["speedup_vs_naive"] = round(entry["sentences_per_s"] / base, 2)
    return results


def _rotated(items: list[str], turn: int) -> list[str]:
    """``items`` cyclically shifted by ``turn``, so that every item leads some rounds."""
    shift = turn % len(items) if items else 0
    return items[shift:] + items[:shift]


def _benchmark_header(
    texts: list[str], device: str, repeats: int, source: str | None, isolate: bool
) -> dict[str, Any]:
    """The results before any path ran: machine, settings and how each figure is measured."""
    from analyzer.scoring.backends import AUTO_CPU_BACKEND, resolve_backend_name

    return {
        "machine": machine_info(),
        "device": device,
        "repeats": repeats,
        "sentences": {"count": len(texts), "source": source},
        "isolated": isolate,
        "method": {
            "timing": (
                "each path in its own process; " if isolate else "all paths in one process; "
            )
            + "model load, export and a warm-up excluded; rounds "
            "alternate the paths in rotating order; throughput = sentences / median round time",
            "peak_rss": "ru_maxrss of each path's worker process (interpreter, libraries, model, scoring)"
            if isolate
            else "one process for all paths: growth of ru_maxrss while each path "
            "was set up and warmed up (later growth is not attributed)",
            "agreement": "vs the reference path (HypeScorer.probabilities, fp32 torch): max |p - p_ref| and "
            "share of (sentence, label) decisions at 0.5 that match",
        },
        "auto_backend": resolve_backend_name("auto", device),
        "auto_cpu_backend": AUTO_CPU_BACKEND,
        "paths": {},
    }


def _record_ready(results: dict[str, Any], name: str, ready: dict[str, Any], count: int) -> None:
    """Enter a path once its worker is ready; the reference's also gives the token count and
    the model."""
    entry = {
        k: v
        for k, v in ready.items()
        if k not in ("ready", "tokens", "flops_per_token", "model_id", "model_version")
    }
    results["paths"][name] = {"description": DESCRIPTIONS[name], **entry, "seconds": []}
    if name == REFERENCE:
        results["sentences"]["tokens"] = ready["tokens"]
        results["sentences"]["mean_tokens"] = round(ready["tokens"] / count, 2)
        results["sentences"]["encoder_flops_per_token"] = ready.get("flops_per_token")
        results["model"] = {
            "model_id": ready["model_id"],
            "model_version": ready["model_version"],
        }


def _collect_outputs(workers: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """Each path's probabilities from its last round, its peak memory entered in ``results``."""
    import numpy as np

    outputs = {}
    for name, worker in workers.items():
        saved = worker.ask("result")
        results["paths"][name]["peak_rss_mb"] = saved["peak_rss_mb"]
        if "peak_growth_mb" in saved:
            results["paths"][name]["peak_growth_mb"] = saved["peak_growth_mb"]
            outputs[name] = np.asarray(saved["probabilities"], dtype=np.float64)
        else:
            outputs[name] = np.load(worker.out)
    return outputs


def _summarise_paths(results: dict[str, Any], outputs: dict[str, Any], count: int) -> None:
    """Each path's median time, throughput and agreement with the reference path."""
    import numpy as np

    reference = outputs[REFERENCE]
    tokens = results["sentences"]["tokens"]
    flops_per_token = results["sentences"].get("encoder_flops_per_token")
    per_core = results["machine"].get("fp32_gemm_gflops_per_core")
    cores = results["machine"].get("physical_cores") or 1
    for name, entry in results["paths"].items():
        median = float(np.median(entry["seconds"]))
        entry["median_seconds"] = round(median, 4)
        entry["sentences_per_s"] = round(count / median, 1)
        entry["tokens_per_s"] = round(tokens / median, 1)
        if flops_per_token:
            entry["useful_gflops"] = round(tokens / median * flops_per_token / 1e9, 1)
            if per_core:
                entry["share_of_gemm_peak"] = round(entry["useful_gflops"] / (per_core * cores), 3)
        difference = np.abs(outputs[name] - reference)
        entry["max_abs_diff"] = float(difference.max())
        entry["mean_abs_diff"] = float(difference.mean())
        entry["label_agreement"] = float(((outputs[name] > 0.5) == (reference > 0.5)).mean())


def _summarise_end_to_end(
    e2e: dict[str, dict[str, list[float]]],
    end_to_end: dict[str, str | os.PathLike[str]] | None,
    device: str,
    count: int,
) -> dict[str, Any]:
    """Per checkout, the command's marginal throughput: the full file's median time less the
    one-record file's."""
    import numpy as np

    summary = {}
    for label, times in e2e.items():
        one, full = float(np.median(times["one"])), float(np.median(times["full"]))
        marginal = full - one
        summary[label] = {
            "command": "analyzer score --input records.jsonl --output scored.jsonl --device "
            f"{device} --no-resume (one record per sentence)",
            "checkout": str(Path(end_to_end[label]).resolve().name) if end_to_end else None,
            "seconds_one_record": times["one"],
            "seconds_all_records": times["full"],
            "median_marginal_seconds": round(marginal, 3),
            "sentences_per_s": round((count - 1) / marginal, 1) if marginal > 0 else None,
        }
    return summary


def markdown_table(results: dict[str, Any]) -> str:
    """A summary table of :func:`run_benchmark` results (for the README)."""
    sentences = results["sentences"]
    machine = results["machine"]
    lines = [
        f"Scoring {sentences['count']} sentences ({sentences.get('source') or 'given file'}, mean "
        f"{sentences.get('mean_tokens')} tokens) on {machine.get('cuda') or machine.get('cpu')} "
        f"({machine.get('physical_cores')} physical cores), device {results['device']}, median of "
        f"{results['repeats']} alternated rounds. `default` = backend auto -> {results['auto_backend']}.",
    ]
    if machine.get("load_average_at_start") is not None:
        lines[0] += (
            f" 1-minute load average {machine['load_average_at_start'][0]} at the start and "
            f"{(machine.get('load_average_at_end') or ['?'])[0]} at the end."
        )
    lines += [
        "",
        "| path | sentences/s | tokens/s | x naive | % of GEMM peak | load s | peak RSS MB | max abs diff | label agreement |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in results["paths"].items():
        share = entry.get("share_of_gemm_peak")
        lines.append(
            f"| {name} | {entry['sentences_per_s']:.0f} | {entry['tokens_per_s']:.0f} | "
            f"{entry.get('speedup_vs_naive', float('nan')):.2f} | "
            f"{'n/a' if share is None else f'{100 * share:.0f}%'} | "
            f"{entry.get('load_seconds', float('nan')):.1f} | "
            f"{_rss_cell(entry)} | {entry['max_abs_diff']:.4f} | "
            f"{100 * entry['label_agreement']:.2f}% |"
        )
    ceiling = _fp32_ceiling(results)
    if ceiling is not None:
        lines += [
            "",
            f"fp32 GEMM on one core ({'x'.join(map(str, GEMM_PROBE_SHAPE))}): "
            f"{machine['fp32_gemm_gflops_per_core']:.0f} GFLOP/s; encoder weight work "
            f"{results['sentences']['encoder_flops_per_token'] / 1e6:.1f} MFLOP per token. The naive "
            f"path runs at {100 * results['paths']['naive']['share_of_gemm_peak']:.0f}% of the "
            f"{machine.get('physical_cores')} cores' peak, so no fp32 path can exceed "
            f"{ceiling:.1f}x naive on this machine.",
        ]
    if results.get("end_to_end"):
        lines += [
            "",
            "End to end, `analyzer score --input` (one record per sentence; marginal throughput = "
            "(n - 1) / (median time for all records - median time for one record), so start-up cancels out):",
            "",
            "| checkout | sentences/s | x naive | median s, all records | median s, one record |",
            "|---|---:|---:|---:|---:|",
        ]
        import statistics

        for label, entry in results["end_to_end"].items():
            rate = entry.get("sentences_per_s")
            lines.append(
                f"| {label} | {rate or float('nan'):.0f} | {entry.get('speedup_vs_naive', float('nan')):.2f} | "
                f"{statistics.median(entry['seconds_all_records']):.1f} | "
                f"{statistics.median(entry['seconds_one_record']):.1f} |"
            )
    return "\n".join(lines) + "\n"


def _fp32_ceiling(results: dict[str, Any]) -> float | None:
    """The most "x naive" any fp32 path can reach: 1 / the naive path's share of the GEMM peak."""
    share = results["paths"].get("naive", {}).get("share_of_gemm_peak")
    return 1.0 / share if share else None


def _rss_cell(entry: dict[str, Any]) -> str:
    if entry.get("peak_rss_mb") is not None:
        return f"{entry['peak_rss_mb']:.0f}"
    if entry.get("peak_growth_mb") is not None:
        return f"+{entry['peak_growth_mb']:.0f}"
    return "n/a"


def write_results(
    results: dict[str, Any],
    json_path: str | os.PathLike[str] | None = None,
    markdown_path: str | os.PathLike[str] | None = None,
) -> None:
    """Write the results as JSON and/or the summary table as markdown."""
    for path, text in (
        (json_path, json.dumps(results, indent=2) + "\n"),
        (markdown_path, markdown_table(results)),
    ):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - the worker process entry point
    sys.exit(worker_main(sys.argv[1:]))
