"""all-MiniLM-L6-v2 through ONNX Runtime: the same vectors as sentence-transformers (cosine >= 0.9999)
without importing torch, so a cold `vectra index query` loads in well under a second instead of ~10 s.

The ONNX graph (transformer + mean pooling + L2 norm) is exported once from the packaged model with
torch (eager attention, so ONNX Runtime's BERT optimizer can fuse it: EmbedLayerNormalization, Attention,
SkipLayerNormalization, BiasGelu; fp32, the same vectors), on first use or by
`python -m vectra_pipeline.index.onnx_embedder --export` at install, and cached outside the data root
under a name keyed by the model path, the torch/onnx/onnxruntime versions and GRAPH_VERSION. A cache
file that cannot be loaded is exported again.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.metadata
import io
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from vectra_capture.store import atomic_write_bytes
from vectra_pipeline.index.embedder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

CACHE_ENV = "VECTRA_CACHE_DIR"
OPSET = 17
GRAPH_VERSION = 2  # bump when the exported graph changes, so old cache files are not reused (2: fused)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_dir() -> Path:
    """$VECTRA_CACHE_DIR, else $XDG_CACHE_HOME/vectra, else ~/.cache/vectra (never the data root)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vectra"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def onnx_path(model_path: str) -> Path:
    """The cache file for this model path exported by this torch and onnx (metadata only: no torch import)."""
    key = (f"{Path(model_path).resolve()}|torch={_version('torch')}|onnx={_version('onnx')}"
           f"|ort={_version('onnxruntime')}|opset={OPSET}|v{GRAPH_VERSION}")
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "onnx" / f"{Path(model_path).name}-{digest}.onnx"


def _tokenizer(model_path: str, max_tokens: int) -> Tokenizer:
    """Truncation at the model window, as sentence-transformers does, and no padding: the embedder pads
    each batch itself (its own instance: `word_pieces` is shared and untruncated)."""
    tok = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
    tok.enable_truncation(max_length=max_tokens)
    tok.no_padding()
    return tok


@functools.cache
def shared_tokenizer(model_path: str, max_tokens: int) -> Tokenizer:
    """One tokenizer per model path and window per process, never changed after loading: reading
    tokenizer.json costs ~30 ms, five times a short question's embedding, and `get_embedder()` gives a
    new embedder per call (a search through the service layer did pay it every time)."""
    return _tokenizer(model_path, max_tokens)


def export_onnx(model_path: str, target: Path, max_tokens: int = 256) -> Path:
    """Export transformer + mean pooling + L2 norm to `target` (written whole or not at all)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter CLI output

    class MeanPooled(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    log.info("exporting %s to ONNX at %s (once per model and torch/onnx version)", model_path, target)
    # eager attention traces to MatMul/Softmax, which the optimizer fuses; SDPA's trace it does not
    model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()
    tok = _tokenizer(model_path, max_tokens)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    encs = tok.encode_batch(["warm up export", "a second, longer text to pad"])
    sample = tuple(torch.tensor([getattr(e, attr) for e in encs], dtype=torch.int64)
                   for attr in ("ids", "attention_mask", "type_ids"))
    buf = io.BytesIO()
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about python control flow in the HF model
        torch.onnx.export(MeanPooled(model), sample, buf, input_names=list(INPUTS), output_names=["embedding"],
                          dynamic_axes={**axes, "embedding": {0: "batch"}}, opset_version=OPSET, dynamo=False)
    atomic_write_bytes(target, _fused(buf.getvalue(), model.config))
    return target


def _fused(onnx_bytes: bytes, config: Any) -> bytes:
    """The exported graph with ONNX Runtime's BERT fusions (fp32: vectors unchanged, cosine >= 0.9999);
    the plain graph if the optimizer is missing or fails."""
    import onnx

    try:
        from onnxruntime.transformers.optimizer import optimize_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fused = optimize_model(onnx.load_from_string(onnx_bytes), model_type="bert", opt_level=0,
                                   num_heads=config.num_attention_heads, hidden_size=config.hidden_size)
        log.info("ONNX fusions: %s", {k: v for k, v in fused.get_fused_operator_statistics().items() if v})
        return fused.model.SerializeToString()
    except Exception as exc:  # an optimizer that cannot handle this graph: the plain graph is correct too
        log.warning("ONNX Runtime BERT fusion failed (%s); caching the unfused graph", exc)
        return onnx_bytes


def session_options() -> Any:
    """Full graph optimisation, one sequential stream over the physical cores, and worker threads that
    sleep instead of spinning between runs (the machine is shared with other processes)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = _physical_cores()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def _physical_cores() -> int:
    """Cores this process may use, hyper-threads counted once where /proc tells (MLAS gains nothing
    from a core's second thread)."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        siblings = cores = 0
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("siblings"):
                siblings = int(line.split(":")[1])
            elif line.startswith("cpu cores"):
                cores = int(line.split(":")[1])
        if siblings and cores and siblings > cores:
            return max(1, logical * cores // siblings)
    except (OSError, ValueError):
        pass
    return max(1, logical)


_SESSIONS: dict[str, Any] = {}
_SESSION_LOCK = threading.Lock()


def load_session(model_path: str, max_tokens: int = 256) -> Any:
    """One InferenceSession per model path per process; exports (or re-exports a corrupt cache) when needed."""
    import onnxruntime as ort  # ~0.4 s: only when a model is used, not when the Dagster code location loads

    with _SESSION_LOCK:
        session = _SESSIONS.get(model_path)
        if session is not None:
            return session
        path = onnx_path(model_path)
        if not path.exists():
            export_onnx(model_path, path, max_tokens)
        opts = session_options()
        try:
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # truncated or corrupt cache file: export again, once
            log.warning("cached ONNX model %s cannot be loaded (%s); exporting it again", path, exc)
            export_onnx(model_path, path, max_tokens)
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        _SESSIONS[model_path] = session
        return session


@dataclass
class OnnxEmbedder(SentenceTransformerEmbedder):
    """all-MiniLM-L6-v2 on ONNX Runtime. Same name, dimension, window, trimming and LanceDB function
    as the torch embedder: its vectors are the same, so tables built by either stay valid."""

    batch_size: int = 32

    @property
    def session(self) -> Any:
        return load_session(self.path, self.max_tokens)

    @property
    def tokenizer(self) -> Tokenizer:
        return shared_tokenizer(self.path, self.max_tokens)

    def warm(self) -> None:
        _ = self.session

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session = self.session
        # every text tokenized once (Rust, parallel), then batches of similar token counts, each padded
        # only to its own longest text: padding changes no vector (masked), it only costs time
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = int(lengths[idx[0]])
            input_ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                input_ids[row, : lengths[i]] = ids[i]
                mask[row, : lengths[i]] = 1
            feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
            out[idx] = session.run(None, feeds)[0]
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Export (or check) the cached ONNX model.")
    ap.add_argument("--export", action="store_true", help="Export now if the cache has no usable file.")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    embedder = OnnxEmbedder()
    if args.export:
        embedder.warm()
    log.info("ONNX model cache: %s (%s)", onnx_path(embedder.path),
             "present" if onnx_path(embedder.path).exists() else "not exported yet")


if __name__ == "__main__":
    main()
