"""Issue "What a user meets", point 4: tabular inputs have a documented input mapping and presets.

Before: the required columns were undocumented and a Dolma JSONL shard (URL in `metadata.url`)
gave `errored: missing-url-field` for every row. The corpora here are real: the extracted text and
URLs of the bundled sample pages (pipeline/sample/sample-00000.warc.gz), written in the shapes of
Dolma JSONL, FineWeb-2 Parquet and a `datasets.save_to_disk` folder, and run through the real
command with configs taken from docs/inputs.md. A tabular run must decide every page exactly as
the WARC run of the same pages does (robots.txt by the real sample snapshot, language by the model).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ROOT  # noqa: E402

from pipeline.cli import main  # noqa: E402
from pipeline.config import ConfigError, config_from_dict, load_config  # noqa: E402
from pipeline.document import Outcome  # noqa: E402
from pipeline.ingest import ArrowReader, JsonlReader, ParquetReader, input_format  # noqa: E402
from pipeline.ingest.mapping import PRESETS, InputMapping  # noqa: E402
from pipeline.shard import process_shard  # noqa: E402

SAMPLE = ROOT / "pipeline" / "sample"
WARC = SAMPLE / "sample-00000.warc.gz"
SNAPSHOT = SAMPLE / "robots-snapshot.parquet"
DOCS = ROOT / "docs" / "inputs.md"


def docs_config(title: str) -> dict[str, Any]:
    """The YAML example of docs/inputs.md whose first line is `# <title>`."""
    for block in re.findall(r"```yaml\n(.*?)```", DOCS.read_text("utf-8"), re.S):
        if block.startswith(f"# {title}\n"):
            return yaml.safe_load(block)
    raise AssertionError(f"docs/inputs.md has no yaml example titled {title!r}")


def run_cli(tmp: Path, name: str, config: dict[str, Any], *extra: str) -> tuple[int, str]:
    """`consentcrawl run --config F` as a user types it; (exit code, stderr)."""
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", "--config", str(path), *extra])
    return code, err.getvalue()


def outcomes(out: Path) -> dict[str, tuple[str, str]]:
    """url -> ('kept', lang label) or (reason, '') over every shard of a finished output."""
    result: dict[str, tuple[str, str]] = {}
    for part in sorted((out / "data").glob("*.parquet")):
        for row in pq.read_table(part).to_pylist():
            result[row["url"]] = ("kept", f"{row['lang']}_{row['script']}")
    for part in sorted((out / "excluded").glob("*.parquet")):
        for row in pq.read_table(part).to_pylist():
            result[row["url"]] = (row["reason"], "")
    return result


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The real sample pages as an extracted corpus: url, text, WARC record id and date (no filtering)."""
    tmp = tmp_path_factory.mktemp("extract")
    config = config_from_dict({"inputs": [str(WARC)], "output": str(tmp / "out"), "robots_snapshot": "none",
                               "workers": 1}, tmp)
    result = process_shard(0, str(WARC), config, str(tmp / "out"))
    assert result.kept == result.records_in == 60
    rows = pq.read_table(tmp / "out" / "data" / "part-00000.parquet").to_pylist()
    return [{"url": r["url"], "text": r["text"], "id": r["source_record_id"], "date": r["crawl_date"]} for r in rows]


@pytest.fixture(scope="module")
def warc_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """How the WARC run decides each page with the Dolma example's settings (snapshot, keep-list)."""
    tmp = tmp_path_factory.mktemp("warc")
    example = docs_config("Dolma JSONL")
    config = config_from_dict({"inputs": [str(WARC)], "output": str(tmp / "out"), "robots_snapshot": str(SNAPSHOT),
                               "langid": example["langid"], "workers": 1}, tmp)
    process_shard(0, str(WARC), config, str(tmp / "out"))
    return outcomes(tmp / "out")


def dolma_rows(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dolma's document format: id, text, source, added, created, metadata (the URL inside)."""
    return [{"id": p["id"], "text": p["text"], "source": "common-crawl", "added": "2024-04-15T00:00:00.000Z",
             "created": p["date"], "metadata": {"url": p["url"], "warc_filename": WARC.name,
                                                "length": len(p["text"])}} for p in pages]


def write_jsonl_gz(path: Path, rows: list[dict[str, Any]]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def dolma_run(tmp_path_factory: pytest.TempPathFactory, pages: list[dict[str, Any]]) -> tuple[Path, dict]:
    """docs/inputs.md's Dolma example, run by the real command on a Dolma-shaped shard of the sample pages."""
    tmp = tmp_path_factory.mktemp("dolma")
    shard = write_jsonl_gz(tmp / "v1_7-cc-0000.jsonl.gz", dolma_rows(pages))
    config = {**docs_config("Dolma JSONL"), "inputs": [shard.name], "output": str(tmp / "out"),
              "robots_snapshot": str(SNAPSHOT), "workers": 1}
    code, err = run_cli(tmp, "dolma", config)
    assert code == 0, err
    return tmp, config


def test_dolma_jsonl_without_a_mapping_is_refused_with_the_fix(tmp_path: Path, pages: list[dict[str, Any]]) -> None:
    """Before: the run went on and errored all 60 rows missing-url-field. After: one line, exit 2, nothing written."""
    shard = write_jsonl_gz(tmp_path / "v1_7-cc-0000.jsonl.gz", dolma_rows(pages))
    code, err = run_cli(tmp_path, "plain", {"inputs": [shard.name], "output": str(tmp_path / "out"),
                                            "robots_snapshot": str(SNAPSHOT), "workers": 1})
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "none of its first 60 rows has the url field 'url' (tabular.url_field, preset default)" in err
    assert "metadata.url" in err and "try `tabular: {preset: dolma}`" in err and "docs/inputs.md" in err
    assert not (tmp_path / "out").exists()


def test_dolma_example_from_the_docs_decides_like_the_warc_run(
        dolma_run: tuple[Path, dict], pages: list[dict[str, Any]], warc_reference: dict[str, tuple[str, str]]) -> None:
    tmp, _config = dolma_run
    out = tmp / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["records_in"] == len(pages) == 60
    assert counts["kept"] + counts["dropped"] + counts["errored"] == 60 and counts["balanced"]
    assert counts["errored_by_reason"] == {}  # before: {"missing-url-field": 60}
    got = outcomes(out)
    assert got == warc_reference  # every page: kept with the same language, or dropped for the same reason
    assert {"optout:robots", "language-not-selected"} <= {reason for reason, _ in got.values()}
    assert manifest["config"]["tabular"]["url_field"] == ["metadata.url"]
    assert manifest["config"]["langid"]["keep_languages"] == ["eng", "fra"]
    by_url = {p["url"]: p for p in pages}
    for row in pq.read_table(out / "data" / "part-00000.parquet").to_pylist():
        page = by_url[row["url"]]  # url from metadata.url, id from id, date from created
        assert (row["source_record_id"], row["crawl_date"], row["text"]) == (page["id"], page["date"], page["text"])


def test_resume_with_another_mapping_is_refused(dolma_run: tuple[Path, dict]) -> None:
    """The mapping is part of the config digest: an output is never continued with other fields."""
    tmp, config = dolma_run
    same = config_from_dict({**config, "tabular": "dolma"}, tmp)  # the short spelling of the same mapping
    other = config_from_dict({**config, "tabular": {"preset": "dolma", "date_field": "added"}}, tmp)
    first = load_config(tmp / "dolma.yaml")
    assert same.settings_sha256() == first.settings_sha256() and same.sha256 == first.sha256
    assert other.settings_sha256() != first.settings_sha256() and other.sha256 != first.sha256
    code, err = run_cli(tmp, "changed", {**config, "tabular": {"preset": "dolma", "date_field": "added"}}, "--resume")
    assert code == 2 and "written with another config" in err, err


def fineweb2_table(pages: list[dict[str, Any]]) -> pa.Table:
    """FineWeb-2's columns, in its order and types."""
    n = len(pages)
    return pa.table({
        "text": [p["text"] for p in pages], "id": [p["id"] for p in pages], "dump": ["CC-MAIN-2024-22"] * n,
        "url": [p["url"] for p in pages], "date": [p["date"] for p in pages],
        "file_path": [f"s3://commoncrawl/crawl-data/{WARC.name}"] * n, "language": ["fra"] * n,
        "language_score": [0.9] * n, "language_script": ["Latn"] * n, "minhash_cluster_size": [1] * n,
        "top_langs": ['{"fra_Latn_score": 0.9}'] * n,
    })


def run_shard(tmp: Path, path: Path, tabular: Any, keep: list[str] | None = None) -> tuple[Any, Path]:
    out = tmp / f"out-{path.name}"
    data: dict[str, Any] = {"inputs": [str(path)], "output": str(out), "robots_snapshot": str(SNAPSHOT),
                            "workers": 1, "tabular": tabular,
                            "langid": {"keep_languages": keep if keep is not None else ["en", "fr"]}}
    config = config_from_dict(data, tmp)
    return process_shard(0, str(path), config, str(out)), out


def test_fineweb2_parquet_preset(tmp_path: Path, pages: list[dict[str, Any]],
                                 warc_reference: dict[str, tuple[str, str]]) -> None:
    path = tmp_path / "000_00000.parquet"
    pq.write_table(fineweb2_table(pages), path, row_group_size=25)
    result, out = run_shard(tmp_path, path, docs_config("FineWeb-2 Parquet")["tabular"])
    assert result.records_in == 60 and result.errored == {}
    assert outcomes(out) == warc_reference
    rows = pq.read_table(out / "data" / "part-00000.parquet").to_pylist()
    assert [r["source_offset"] for r in rows] == sorted(r["source_offset"] for r in rows)  # row index, in order


def test_nested_struct_column_in_parquet(tmp_path: Path, pages: list[dict[str, Any]],
                                         warc_reference: dict[str, tuple[str, str]]) -> None:
    """Dolma's rows as Parquet: `metadata.url` is a struct field; a null struct or field errors its row only."""
    rows = dolma_rows(pages)
    rows[5]["metadata"] = None
    rows[9]["metadata"] = {"url": None, "warc_filename": WARC.name, "length": 1}
    path = tmp_path / "dolma.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert pa.types.is_struct(pq.read_schema(path).field("metadata").type)
    result, out = run_shard(tmp_path, path, "dolma")
    assert result.records_in == 60 and result.errored == {"missing-url-field": 2}
    assert result.kept + sum(result.dropped.values()) + 2 == 60
    ledger = pq.read_table(out / "excluded" / "part-00000.parquet").to_pylist()
    missing = [r for r in ledger if r["reason"] == "missing-url-field"]
    assert sorted(r["source_offset"] for r in missing) == [5, 9]
    assert all(json.loads(r["evidence"])["field"] == "metadata.url" for r in missing)
    lost = {pages[5]["url"], pages[9]["url"]}
    assert {u: o for u, o in outcomes(out).items() if u} == {u: o for u, o in warc_reference.items() if u not in lost}


def test_saved_to_disk_folder_is_an_input(tmp_path: Path, pages: list[dict[str, Any]],
                                          warc_reference: dict[str, tuple[str, str]]) -> None:
    """A DatasetDict saved with datasets: the folder is the input, its Arrow files the shards, in order."""
    datasets = pytest.importorskip("datasets")
    columns = {k: [p[k] for p in pages] for k in ("text", "url", "id", "date")}
    half = len(pages) // 2
    saved = tmp_path / "saved" / "my-corpus"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({k: v[:half] for k, v in columns.items()}),
        "test": datasets.Dataset.from_dict({k: v[half:] for k, v in columns.items()}),
    }).save_to_disk(str(saved), num_shards={"train": 2, "test": 1})
    example = docs_config("datasets save_to_disk folder")
    assert example["inputs"] == ["saved/my-corpus"]
    config = {**example, "output": str(tmp_path / "out"), "robots_snapshot": str(SNAPSHOT),
              "langid": {"keep_languages": ["en", "fr"]}, "workers": 1}
    code, err = run_cli(tmp_path, "saved", config)
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [(i["shard"], i["uri"]) for i in manifest["inputs"]] == [  # dataset_dict.json's split order
        (0, "saved/my-corpus/train/data-00000-of-00002.arrow"), (1, "saved/my-corpus/train/data-00001-of-00002.arrow"),
        (2, "saved/my-corpus/test/data-00000-of-00001.arrow")]
    assert manifest["counts"]["records_in"] == 60 and manifest["counts"]["errored"] == 0
    assert outcomes(tmp_path / "out") == warc_reference
    loaded = datasets.load_from_disk(str(saved))  # the Arrow reader's rows are datasets' rows, in order
    files = [[d for d in ArrowReader(str(f))] for f in sorted((saved / "train").glob("*.arrow"))]
    assert [d.url for docs in files for d in docs] == list(loaded["train"]["url"])
    assert all([d.source_offset for d in docs] == list(range(len(docs))) for docs in files)


def test_arrow_file_format_and_a_cut_stream(tmp_path: Path, pages: list[dict[str, Any]]) -> None:
    """Feather v2 / IPC file format reads the same rows; a stream cut short errors one row, keeps those before."""
    table = pa.Table.from_pylist([{k: p[k] for k in ("text", "url", "id")} for p in pages])
    as_file = tmp_path / "pages.arrow"
    with pa.ipc.new_file(as_file, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=16):
            writer.write_batch(batch)
    assert input_format(str(as_file)) == "arrow"
    assert [d.url for d in ArrowReader(str(as_file))] == [p["url"] for p in pages]
    stream = tmp_path / "stream.arrow"
    with pa.ipc.new_stream(stream, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=16):
            writer.write_batch(batch)
    cut = tmp_path / "cut.arrow"
    raw = stream.read_bytes()
    cut.write_bytes(raw[: int(len(raw) * 0.6)])
    docs = list(ArrowReader(str(cut)))
    *good, tail = docs
    assert [d.url for d in good] == [p["url"] for p in pages[: len(good)]] and len(good) % 16 == 0 and good
    assert tail.outcome is Outcome.ERRORED and tail.reason == "arrow-unreadable"
    assert tail.source_offset == len(good)


def test_jsonl_paths_oversize_and_surrogates(tmp_path: Path) -> None:
    """A dotted path reaches nested keys; a literal `a.b` key wins; over-cap and bad-Unicode rows name the path."""
    big = "x" * 5000
    lines = [
        {"id": "a", "text": "Bonjour", "metadata": {"url": "https://n.example.org/"}},
        {"id": "b", "text": "Hallo", "metadata.url": "https://flat.example.org/", "metadata": {"url": "https://x/"}},
        {"id": "c", "metadata": {"url": "https://big.example.org/"}, "text": big},
        {"id": "d", "text": "Hola", "metadata": {"url": "https://s.example.org/\ud800"}},
        {"id": "e", "text": "Ciao", "metadata": {}},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode("ascii") + b"\n" for r in lines))
    docs = list(JsonlReader(str(path), max_payload_bytes=1000, mapping=PRESETS["dolma"]))
    assert [d.url for d in docs[:3]] == ["https://n.example.org/", "https://flat.example.org/", "https://big.example.org/"]
    assert (docs[2].reason, docs[2].source_record_id) == ("payload-too-large", "c")  # found in the line's head
    assert (docs[3].reason, docs[3].evidence["field"]) == ("invalid-unicode", "metadata.url")
    assert (docs[4].reason, docs[4].evidence) == ("missing-url-field", {"field": "metadata.url"})
    default = list(JsonlReader(str(path), max_payload_bytes=1000))
    assert default[0].reason == "missing-url-field" and default[0].evidence == {"field": "url"}


def test_parquet_flat_column_with_a_dot_wins(tmp_path: Path) -> None:
    path = tmp_path / "flat.parquet"
    pq.write_table(pa.table({"body": ["Guten Tag"], "meta.url": ["https://flat.example.org/"],
                             "meta": [{"url": "https://nested.example.org/"}], "fetched": ["2024-01-02"]}), path)
    mapping = InputMapping(text_field=("body",), url_field=("meta.url",), id_field=(), date_field=("fetched",))
    [doc] = list(ParquetReader(str(path), mapping=mapping))
    assert (doc.url, doc.text, doc.crawl_date, doc.source_record_id) == (
        "https://flat.example.org/", "Guten Tag", "2024-01-02", "row:0")


def test_custom_schema_example_from_the_docs(tmp_path: Path, pages: list[dict[str, Any]]) -> None:
    example = docs_config("custom schema")
    rows = [{"body": p["text"], "meta": {"source": {"url": p["url"]}, "crawled_at": p["date"]}} for p in pages[:10]]
    (tmp_path / "export").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "export" / "part-0.parquet")
    config = config_from_dict({**example, "output": str(tmp_path / "out"), "workers": 1}, tmp_path)
    result = process_shard(0, config.inputs[0], config, str(tmp_path / "out"))
    assert result.records_in == result.kept == 10
    kept = pq.read_table(tmp_path / "out" / "data" / "part-00000.parquet").to_pylist()
    assert [(r["url"], r["crawl_date"], r["source_record_id"]) for r in kept] == [
        (p["url"], p["date"], f"row:{i}") for i, p in enumerate(pages[:10])]


@pytest.mark.parametrize(("tabular", "message"), [
    ({"preset": "fineweb3"}, "config key 'tabular.preset': unknown preset 'fineweb3' (known: default, dolma, "
                             "fineweb, fineweb-2, hf-saved)"),
    ({"url": "metadata.url"}, "unknown config key 'tabular.url'"),
    ({"url_field": None}, "config key 'tabular.url_field': required"),
    ({"text_field": "a..b"}, "config key 'tabular.text_field': 'a..b' is not a column name or dotted path"),
    ({"id_field": 3}, "config key 'tabular.id_field': expected a dotted path or a list of them, got int"),
    (5, "config key 'tabular': expected a preset name or a mapping, got int"),
])
def test_mapping_mistakes_are_one_line(tmp_path: Path, tabular: Any, message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "Hello there", "url": "https://a.example.org/"}) + "\n")
    with pytest.raises(ConfigError) as info:
        config_from_dict({"inputs": [str(path)], "output": str(tmp_path / "out"), "robots_snapshot": "none",
                          "tabular": tabular}, tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_folder_that_is_not_a_saved_dataset_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.jsonl").write_text("{}\n")
    with pytest.raises(ConfigError, match="is not a datasets save_to_disk folder"):
        config_from_dict({"inputs": ["notes"], "output": str(tmp_path / "out"), "robots_snapshot": "none"}, tmp_path)
