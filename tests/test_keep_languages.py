"""Issue "What a user meets", point 4: `langid.keep_languages` is checked against the model's labels.

Before: `keep_languages: [english, fr]` was accepted and silently dropped every document (only
`eng_Latn` / `eng` ever matched). After: ISO 639-3, ISO 639-1 and `xxx_Scrp` are accepted and
stored as the model's codes, macrolanguages match their members, anything else is refused at
config time with one line listing close matches. Runs use the bundled real sample pages.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ROOT  # noqa: E402

from pipeline.cli import main  # noqa: E402
from pipeline.config import ConfigError, LangIdConfig, config_from_dict  # noqa: E402
from pipeline.langid.stage import DROP_REASON, LanguageStage  # noqa: E402
from pipeline.shard import process_shard  # noqa: E402

SAMPLE = ROOT / "pipeline" / "sample"
PAGES = SAMPLE / "sample-00000.warc.gz"  # 60 real pages in ~30 languages
CHINESE = SAMPLE / "cc-main-2020-34-excerpt.warc.gz"  # real Common Crawl records, mostly Chinese


def run_cli(tmp: Path, config: dict[str, Any]) -> tuple[int, str]:
    """`consentcrawl run --config F`, as a user types it; (exit code, stderr)."""
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", "--config", str(path)])
    return code, err.getvalue()


def shard(tmp: Path, warc: Path, langid: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    """One real shard through every stage; (result, kept rows)."""
    out = tmp / f"out-{len(list(tmp.iterdir()))}"
    config = config_from_dict({"inputs": [str(warc)], "output": str(out), "robots_snapshot": "none",
                               "workers": 1, "langid": langid}, tmp)
    result = process_shard(0, str(warc), config, str(out))
    return result, pq.read_table(out / "data" / "part-00000.parquet").to_pylist()


@pytest.fixture(scope="module")
def all_languages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """url -> language label of every page of the sample shard, with no keep-list."""
    _result, rows = shard(tmp_path_factory.mktemp("all"), PAGES, {})
    return {r["url"]: f"{r['lang']}_{r['script']}" for r in rows}


def test_a_name_is_refused_with_close_matches(tmp_path: Path) -> None:
    """Before: accepted, and the run kept 0 of 60 pages. After: exit 2, one line, nothing written."""
    code, err = run_cli(tmp_path, {"inputs": [str(PAGES)], "output": str(tmp_path / "out"), "robots_snapshot": "none",
                                   "langid": {"keep_languages": ["english", "fr"]}})
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "unknown language 'english' in langid.keep_languages; did you mean: eng (English)?" in err
    assert not (tmp_path / "out").exists()


def test_iso_639_1_codes_keep_those_languages(tmp_path: Path, all_languages: dict[str, str]) -> None:
    """`[en, fr]` through the real command keeps exactly the English and French pages."""
    out = tmp_path / "out"
    code, err = run_cli(tmp_path, {"inputs": [str(PAGES)], "output": str(out), "robots_snapshot": "none",
                                   "workers": 1, "langid": {"keep_languages": ["en", "fr"]}})
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["langid"]["keep_languages"] == ["eng", "fra"]
    wanted = {u for u, label in all_languages.items() if label in ("eng_Latn", "fra_Latn")}
    assert len(wanted) >= 5 and len(all_languages) - len(wanted) >= 20
    kept = {r["url"] for r in pq.read_table(out / "data" / "part-00000.parquet").to_pylist()}
    assert kept == wanted
    ledger = pq.read_table(out / "excluded" / "part-00000.parquet").to_pylist()
    assert {r["url"] for r in ledger} == set(all_languages) - wanted
    assert {r["reason"] for r in ledger} == {DROP_REASON}
    counts = manifest["counts"]
    assert counts["records_in"] == 60 and counts["kept"] + counts["dropped"] + counts["errored"] == 60


def test_spellings_of_one_language_are_one_setting(tmp_path: Path) -> None:
    """fr, FRA, fre and fr-Latn name French; stored as the model's codes, so the config digest agrees."""
    def config(keep: list[str]) -> Any:
        return config_from_dict({"inputs": [str(PAGES)], "output": str(tmp_path / "out"), "robots_snapshot": "none",
                                 "langid": {"keep_languages": keep}}, tmp_path)

    french = [config(k) for k in (["fr"], ["FRA"], ["fre"], ["fra", "fr"])]
    assert {c.langid.keep_languages for c in french} == {("fra",)}
    assert len({c.sha256 for c in french}) == 1
    assert config(["fr-Latn"]).langid.keep_languages == ("fra_Latn",)
    assert config(["sr_latn", "nb"]).langid.keep_languages == ("srp_Latn", "nob")


@pytest.mark.parametrize(("keep", "model", "message"), [
    (["fra_Cyrl"], "default", "never labels fra as fra_Cyrl; did you mean: fra_Latn (French)"),
    (["zu"], "lid176", "language 'zu' (zul, Zulu) in langid.keep_languages: model lid176 never outputs it"),
    (["French"], "default", "unknown language 'French' in langid.keep_languages; did you mean: fra (French)?"),
    (["portug"], "lid176", "did you mean: por (Portuguese)?"),
    (["en_US"], "default", "unknown language 'en_US'"),
    (["xyz"], "lid176", "unknown language 'xyz' in langid.keep_languages (use ISO 639-3 'fra'"),
])
def test_what_the_model_cannot_output_is_refused(tmp_path: Path, keep: list[str], model: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"inputs": [str(PAGES)], "output": str(tmp_path / "out"), "robots_snapshot": "none",
                          "langid": {"model": model, "keep_languages": keep}}, tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_zulu_is_accepted_by_the_model_that_has_it(tmp_path: Path) -> None:
    config = config_from_dict({"inputs": [str(PAGES)], "output": str(tmp_path / "out"), "robots_snapshot": "none",
                               "langid": {"keep_languages": ["zu", "und"]}}, tmp_path)
    assert config.langid.keep_languages == ("zul", "und")


@pytest.mark.parametrize("model", ["default", "lid176"])
@pytest.mark.parametrize("keep", [["zh"], ["zho"], ["cmn"]])
def test_macrolanguage_and_member_match_each_other(tmp_path: Path, model: str, keep: list[str]) -> None:
    """Chinese is labelled Mandarin `cmn` (FineWeb-2 label space, macrolanguage column `zho`); a keep-list
    naming Mandarin (`cmn`) or Chinese (`zh`, `zho`) keeps it either way."""
    everything, rows = shard(tmp_path, CHINESE, {"model": model})
    chinese = {r["url"] for r in rows if r["lang"] == "cmn"}
    assert chinese == {r["url"] for r in rows if r["macrolanguage"] == "zho"}
    assert len(chinese) >= 10
    result, kept = shard(tmp_path, CHINESE, {"model": model, "keep_languages": keep})
    assert {r["url"] for r in kept} == chinese
    assert result.dropped.get(DROP_REASON, 0) == everything.kept - len(chinese)


def test_norwegian_macrolanguage_keeps_bokmal(tmp_path: Path, all_languages: dict[str, str]) -> None:
    """Norwegian pages are labelled Bokmål `nob` (FineWeb-2 label space); `keep_languages: [no]` (the
    macrolanguage) and `[nb]` both keep them."""
    norwegian = {u for u, label in all_languages.items() if label == "nob_Latn"}
    assert norwegian
    for keep in (["no"], ["nb"]):
        _result, kept = shard(tmp_path, PAGES, {"keep_languages": keep})
        assert {r["url"] for r in kept} == norwegian


def test_stage_built_without_a_config_normalises_too() -> None:
    """LanguageStage(identifier, ("fr",)) matches French like the config's ("fra",)."""
    from pipeline.langid.stage import _identifier

    ident = _identifier("default", None, LangIdConfig().max_chars)
    stage = LanguageStage(ident, ("fr", "zho_Hant"))
    assert stage.keeps("fra", "Latn") and not stage.keeps("eng", "Latn")
    assert stage.keeps("zho", "Hant") and stage.keeps("yue", "Hant") and not stage.keeps("zho", "Hans")
    assert LanguageStage(ident, ()).keeps("eng", "Latn")
