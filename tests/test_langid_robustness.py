"""Bad input never raises: every text gets a label and a score."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.langid import LangResult, LanguageIdentifier, prepare_text

LABEL_RE = re.compile(r"^[a-z]{2,3}_[A-Z][a-z]{3}$")


@pytest.fixture(scope="module")
def ident() -> LanguageIdentifier:
    return LanguageIdentifier("lid176")


def _check(r: LangResult) -> None:
    assert LABEL_RE.match(r.label), r
    assert r.label == f"{r.lang}_{r.script}"
    assert 0.0 <= r.score <= 1.0
    assert r.topk and all(LABEL_RE.match(lab) and 0.0 <= s <= 1.0 for lab, s in r.topk)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("", "zxx_Zxxx"),
        ("   \n\t  ", "zxx_Zxxx"),
        ("0123456789 42 3.14", "zxx_Zxxx"),
        ("٣٤٥ ४५६ 😀🎉👍🏽 ❤️", "zxx_Zxxx"),
        ("\udcff", "zxx_Zxxx"),
        ("\udcff\ud800 \U0001f600", "zxx_Zxxx"),
        ("http://example.com/path?q=1 user@example.org www.example.net", "zxx_Zxxx"),
        ("\x00\x01\x02\x7f", "zxx_Zxxx"),
    ],
)
def test_no_letters_is_zxx(ident: LanguageIdentifier, text: str, label: str) -> None:
    r = ident.predict(text)
    assert r.label == label
    _check(r)


BAD_INPUTS: dict[str, Callable[[], str]] = {
    "5MB-a": lambda: "a" * 5_000_000,
    "5MB-cyrillic": lambda: "ж" * 5_000_000,
    "5MB-han": lambda: "漢" * 5_000_000,
    "5MB-surrogate": lambda: "\udcff" * 5_000_000,
    "surrogate-inside": lambda: "The quick brown fox \udcff jumps over the lazy dog",
    "mixed-scripts": lambda: "Hello мир 你好 مرحبا नमस्ते",
    "line-breaks": lambda: "line one\nline two\r\nline three\u2028four\x0bfive\x0csix",
    "nul-bytes": lambda: "word\x00word\x00word",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_label_and_score(ident: LanguageIdentifier, name: str) -> None:
    text = BAD_INPUTS[name]()
    t = time.perf_counter()
    _check(ident.predict(text))
    assert time.perf_counter() - t < 2.0


def test_batch_matches_single(ident: LanguageIdentifier) -> None:
    texts = ["Bonjour tout le monde", "", "Guten Morgen zusammen", "123", "\udcff", "Hola amigos"]
    assert ident.predict_batch(texts) == [ident.predict(t) for t in texts]


def test_mixed_scripts_flag_conflict(ident: LanguageIdentifier) -> None:
    # Mostly Latin letters but lid.176 is pulled to Chinese by the Han n-grams.
    r = ident.predict("Hello мир 你好 مرحبا")
    _check(r)
    if r.lang == "cmn":
        assert r.script_conflict and r.script == "Hani"


def test_script_from_text_for_lid176(ident: LanguageIdentifier) -> None:
    # FineWeb-2 label space: lid.176's `zh` is Mandarin `cmn`, one Han script `Hani` (either form).
    r = ident.predict("这是一个关于中国经济发展的新闻报道，政府发布了新的政策。")
    assert (r.label, r.macrolanguage) == ("cmn_Hani", "zho")
    r = ident.predict("這是一個關於中國經濟發展的新聞報導，政府發佈了新的政策。")
    assert (r.label, r.macrolanguage) == ("cmn_Hani", "zho")
    r = ident.predict("Влада Србије је данас усвојила нови закон о образовању и науци.")
    assert r.label == "srp_Cyrl"
    r = ident.predict("日本政府は新しい経済政策を発表しました。")
    assert r.label == "jpn_Jpan"
    r = ident.predict("한국 정부는 새로운 경제 정책을 발표했습니다.")
    assert r.label == "kor_Hang"


def test_prepare_text() -> None:
    assert prepare_text("Visit https://x.org/a now,\nmail me@x.org 2024!") == "Visit now, mail !"
    long = " ".join(f"w{i % 10}x" for i in range(100_000))
    p = prepare_text(long, max_chars=1000, windows=4)
    assert len(p) <= 1000 + 3
    assert "\n" not in prepare_text("a\nb\rc")
    assert prepare_text("a\udcffb") == "a b"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=300))
def test_never_raises(text: str) -> None:
    ident = LanguageIdentifier("lid176")  # cached model: cheap to re-create
    _check(ident.predict(text))


def test_cli_lid176_stdin_lines() -> None:
    payload = (
        "Bonjour tout le monde, comment allez-vous ?\n"
        + json.dumps({"text": "Das ist ein kleiner Test auf Deutsch."})
        + "\n"
        + "\n"
        + "12345\n"
    ).encode() + b"\xff\xfe invalid bytes in an english sentence here\n{not json\n"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.langid.cli", "--model", "lid176"],
        input=payload,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    )
    out = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(out) == 6  # one output line per input line, whatever it holds
    assert [o["lang"] for o in out[:5]] == ["fra", "deu", "zxx", "zxx", "eng"]
    for o in out:
        assert set(o) >= {"label", "lang", "script", "score", "topk"}
        assert len(o["topk"]) in (1, 3)


def test_cli_bad_model_exit_code() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.langid.cli", "--model", "/nonexistent/model.bin"],
        input=b"hello\n",
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("consentcrawl: error: langid.model")


def test_config_sets_the_text_the_model_sees() -> None:
    from pipeline.config import LangIdConfig
    from pipeline.langid.stage import LanguageStage

    long = " ".join(f"mot{i % 7}e" for i in range(5_000))
    default = LanguageStage.for_config(LangIdConfig()).identifier.prepare(long)
    wide = LanguageStage.for_config(LangIdConfig(max_chars=4000)).identifier.prepare(long)
    assert len(default) <= LangIdConfig().max_chars + 3 < 3_900 <= len(wide) <= 4_003


_URL = re.compile(r"(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_JUNK = re.compile(r"[\d\ud800-\udfff\x00-\x08\x0e-\x1f\x7f-\x9f]+")


def _whole_text_clean(text: str) -> str:
    """The specification clean_text must keep: every pattern over the whole text."""
    text = _EMAIL.sub(" ", _URL.sub(" ", text))
    return re.sub(r"\s+", " ", _JUNK.sub(" ", text)).strip()


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Z\u00a0\x1c\t\n:/.w W@-+1\u0663\udcff\x00é")), max_size=80))
def test_token_scoped_cleaning_equals_whole_text_patterns(text: str) -> None:
    from pipeline.langid.prepare import clean_text

    assert clean_text(text) == _whole_text_clean(text)


def test_token_scoped_cleaning_on_real_pages() -> None:
    """The bundled sample's 120 real pages after extraction, URLs and addresses included."""
    from pipeline.extract import Extractor
    from pipeline.ingest.warc import WarcReader
    from pipeline.langid.prepare import clean_text

    texts = []
    for warc in sorted((ROOT / "pipeline" / "sample").glob("sample-*.warc.gz")):
        for doc in WarcReader(str(warc)):
            if not doc.done and Extractor().run(doc).text:
                texts.append(doc.text)
    assert len(texts) >= 100 and sum("://" in t or "@" in t for t in texts) >= 5
    for text in texts:
        assert clean_text(text) == _whole_text_clean(text)
