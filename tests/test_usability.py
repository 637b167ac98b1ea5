"""What a new user meets (issue 16): no silent opt-out footguns, honest attribution, folders that
load as they are, one path rule, `robots check` on what people type. Every test runs the user's
own command (`consentcrawl ...` through the real entry point) on the bundled real sample."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT

from pipeline import cli as top
from pipeline.manifest.build import body_sha256, code_sha256, merkle_root
from pipeline.optout.policy import load_policy
from pipeline.optout.robots import RobotsTxt

SAMPLE = ROOT / "pipeline" / "sample"
SHARD = SAMPLE / "sample-00000.warc.gz"

#: Three hosts of sample-00000 (two pages each), three kinds of robots.txt.
EVERYONE = "www.rp.pl"  # `User-agent: *` disallows: the site shuts out every crawler
ONLY_GPTBOT = "www.aa.com.tr"  # only GPTBot's own group disallows
ALL_BUT_GPTBOT = "www.mk.co.kr"  # GPTBot allowed by its group, everyone else by `*` disallowed
BODIES = {
    EVERYONE: "User-agent: *\nDisallow: /\n",
    ONLY_GPTBOT: "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
    ALL_BUT_GPTBOT: "User-agent: GPTBot\nAllow: /\n\nUser-agent: *\nDisallow: /\n",
}


def cli(*argv: object) -> int:
    try:
        return top.main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0)


def _snapshot(tmp: Path) -> Path:
    table = tmp / "robots.jsonl"
    table.write_text("".join(json.dumps({"host": f"https://{h}", "body": b, "status": 200,
                                         "fetched_at": "2025-01-10T00:00:00Z"}) + "\n" for h, b in BODIES.items()))
    out = tmp / "robots.parquet"
    assert cli("robots", "build", "--from-table", table, "--out", out) == 0
    return out


def _config(folder: Path, snapshot: str | None, output: str = "out", policy: str = "apertus") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHARD, folder / SHARD.name)
    text = f"inputs: [{SHARD.name}]\noutput: {output}\npolicy: {policy}\nworkers: 1\n"
    if snapshot is not None:
        text += f"robots_snapshot: {snapshot}\n"
    cfg = folder / "config.yaml"
    cfg.write_text(text)
    return cfg


# 1. Opt-out filtering is never off by accident ---------------------------------------------


def test_a_config_without_a_robots_snapshot_is_refused_with_how_to_get_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path / "p", None)
    assert cli("run", "--config", cfg) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "robots_snapshot" in err
    for how in ("robots build", "robots fetch --from-input", "robots-snapshot.parquet", "robots_snapshot: none"):
        assert how in err, how
    assert not (tmp_path / "p" / "out").exists()


def test_robots_snapshot_none_runs_and_every_output_says_so(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path / "p", "none")
    assert cli("run", "--config", cfg) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "no robots.txt filtering was applied" in said
    out = tmp_path / "p" / "out"
    m = json.loads((out / "manifest.json").read_text())
    assert m["robots_filtering"] == {"applied": False,
                                     "statement": "no robots.txt filtering was applied (robots_snapshot: none)"}
    assert "optout:robots" not in m["counts"]["dropped_by_reason"]
    assert "no robots.txt filtering was applied" in (out / "README.md").read_text()
    assert cli("publish", out) == 0
    assert "no robots.txt filtering was applied" in (out / "README.md").read_text()
    assert "no robots.txt filtering was applied" in (out / "report" / "index.html").read_text()


@pytest.mark.parametrize("value", ["None", "NONE"])
def test_none_is_spelled_exactly(tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("run", "--config", _config(tmp_path / "p", value)) == 2
    assert "robots_snapshot" in capsys.readouterr().err


# 2. Attribution that says what happened -----------------------------------------------------


def test_star_groups_and_named_groups_are_credited_as_they_are(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    snap = _snapshot(tmp_path)
    cfg = _config(tmp_path / "p", str(snap))
    assert cli("run", "--config", cfg) == 0
    summary = capsys.readouterr().out
    out = tmp_path / "p" / "out"
    ledger = pl.read_parquet(out / "excluded").filter(pl.col("reason") == "optout:robots")
    agents = list(load_policy("apertus").agents)
    by_host = {r["host"]: r for r in ledger.to_dicts()}
    assert set(by_host) == set(BODIES)
    for host, row in by_host.items():
        robots = RobotsTxt.parse(BODIES[host])
        # The engine's one-agent answer is the oracle for the set: every policy agent it disallows.
        assert row["agents"] == [a for a in agents if not robots.can_fetch(a, row["url"])]
        ev = json.loads(row["evidence"])
        assert ev["group"] == row["group"] and ev["agents"] == row["agents"] and ev["line"] == row["rule_line"]
    assert by_host[EVERYONE]["group"] == "*" and by_host[EVERYONE]["agents"] == agents
    assert by_host[ONLY_GPTBOT]["group"] == "GPTBot" and by_host[ONLY_GPTBOT]["agents"] == ["GPTBot"]
    assert by_host[ALL_BUT_GPTBOT]["group"] == "*" and "GPTBot" not in by_host[ALL_BUT_GPTBOT]["agents"]
    assert by_host[ALL_BUT_GPTBOT]["rule"] == "Disallow: /" and by_host[ALL_BUT_GPTBOT]["rule_line"] == 5

    m = json.loads((out / "manifest.json").read_text())
    star = int(ledger.filter(pl.col("group") == "*").height)
    named = int(ledger.filter(pl.col("group") == "GPTBot").height)
    assert m["counts"]["dropped_by_group"] == {"optout:robots": {"*": star, "GPTBot": named}}
    lines = [" ".join(line.replace("│", " ").split()) for line in summary.splitlines()]
    at = lines.index(f"dropped: optout:robots {star + named}")
    assert lines[at + 1] == f"all crawlers (User-agent: *) {star}"
    assert lines[at + 2] == f"AI agent GPTBot (its own group) {named}"
    capsys.readouterr()
    assert cli("lookup", out, EVERYONE) == 1  # exit 1: excluded
    assert "disallows all crawlers (its User-agent: * group)" in capsys.readouterr().out
    assert cli("lookup", out, ONLY_GPTBOT) == 1
    assert "group for AI agent GPTBot disallows it by rule 'Disallow: /' (line 2); policy agents disallowed: GPTBot;" \
        in capsys.readouterr().out


def test_agent_rows_sit_under_their_own_reason_with_a_strict_policy(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`--policy strict` adds signal reasons after optout:robots; the group rows stay under robots."""
    out = tmp_path / "dry"
    assert cli("dry-run", "--out", out, "--policy", "strict", "--workers", "1") == 0
    lines = [" ".join(line.replace("│", " ").split()) for line in capsys.readouterr().out.splitlines()]
    m = json.loads((out / "manifest.json").read_text())
    groups = m["counts"]["dropped_by_group"]["optout:robots"]
    at = next(i for i, line in enumerate(lines) if line.startswith("dropped: optout:robots "))
    rows = lines[at + 1: at + 1 + len(groups)]
    assert all(r.startswith(("all crawlers", "AI agent ")) for r in rows), rows
    assert sum(int(r.rsplit(" ", 1)[1]) for r in rows) == m["counts"]["dropped_by_reason"]["optout:robots"]
    assert not lines[at + 1 + len(groups)].startswith(("all crawlers", "AI agent "))


# 3. Every output folder loads as it is ------------------------------------------------------


def _load(folder: Path, name: str | None = None) -> int:
    from datasets import load_dataset

    ds = load_dataset(str(folder), name, split="train") if name else load_dataset(str(folder), split="train")
    return ds.num_rows


def test_run_dry_run_and_revoke_folders_load_with_datasets(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path)
    cfg = _config(tmp_path / "p", str(snap))
    assert cli("run", "--config", cfg) == 0
    out = tmp_path / "p" / "out"
    m = json.loads((out / "manifest.json").read_text())
    assert _load(out) == m["counts"]["kept"]
    assert _load(out, "excluded") == m["counts"]["excluded_rows"]
    assert _load(out, "robots_snapshots") == len(BODIES)
    assert cli("verify", out) == 0  # the card is in the manifest like any other file
    assert any(f["path"] == "README.md" and f["kind"] == "card" for f in m["files"])

    removals = tmp_path / "removals.txt"
    removals.write_text("www.newsweek.com\n")
    v2 = tmp_path / "v2"
    assert cli("revoke", out, "--removals", removals, "--out", v2) == 0
    m2 = json.loads((v2 / "manifest.json").read_text())
    assert _load(v2) == m2["counts"]["kept"] == m["counts"]["kept"] - 1
    assert _load(v2, "excluded") == m2["counts"]["excluded_rows"]
    assert "Dataset version 2" in (v2 / "README.md").read_text()
    assert cli("verify", v2) == 0

    dry = tmp_path / "dry"
    assert cli("dry-run", "--out", dry, "--workers", "1") == 0
    assert _load(dry) == json.loads((dry / "manifest.json").read_text())["counts"]["kept"]
    # publish enriches the same card: a license and the report now, and it still loads
    assert "license:" not in (dry / "README.md").read_text().split("---")[1]
    assert cli("publish", dry, "--license", "cc-by-4.0") == 0
    assert "license: cc-by-4.0" in (dry / "README.md").read_text()
    assert _load(dry, "excluded") > 0


def test_the_merkle_root_does_not_depend_on_how_the_package_was_installed(tmp_path: Path) -> None:
    """`pip install .` copies pipeline/*.py into site-packages (no git): the hashed code identity is the same,
    and the git commit lives in `build`, outside the Merkle root."""
    wheel_dir = tmp_path / "wheel"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(wheel_dir), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = wheel_dir.glob("consentcrawl-*.whl")
    with zipfile.ZipFile(whl) as z:
        z.extractall(tmp_path / "site")
    assert code_sha256(tmp_path / "site" / "pipeline") == code_sha256(ROOT / "pipeline")

    m = json.loads(json.dumps({"pipeline": {"code_sha256": code_sha256()}, "files": [],
                               "build": {"source_commit": "0" * 40, "source_tree": "clean", "python": "3.11.7"}}))
    root = merkle_root([], body_sha256(m))
    m["build"] = {"source_commit": "unknown", "source_tree": "unknown", "python": "3.12.1"}
    assert merkle_root([], body_sha256(m)) == root
    m["pipeline"]["code_sha256"] = "f" * 64
    assert merkle_root([], body_sha256(m)) != root


# 4. robots check and the path rule ----------------------------------------------------------


def test_robots_check_reads_scheme_less_input_as_both_schemes(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    snap = _snapshot(tmp_path)
    capsys.readouterr()
    assert cli("robots", "check", "--json", "--snapshot", snap, f"{EVERYONE}/home") == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["url"] for r in results] == [f"http://{EVERYONE}/home", f"https://{EVERYONE}/home"]
    assert [r["allowed"] for r in results] == [False, False]
    assert all(r["query"] == f"{EVERYONE}/home" and r["group"] == "*" for r in results)
    assert cli("robots", "check", "--snapshot", snap, f"{ONLY_GPTBOT}/x") == 0
    text = capsys.readouterr().out
    assert f"{ONLY_GPTBOT}/x has no scheme: read as https://{ONLY_GPTBOT}/x" in text
    assert "AI agent GPTBot (its own group), rule 'Disallow: /' at line 2; policy agents disallowed: GPTBot" in text


@pytest.mark.parametrize("query", ["not a url", "", "ftp://example.org/x", "http://", "exa mple.org/x"])
def test_robots_check_refuses_what_is_not_a_url(tmp_path: Path, query: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("robots", "check", "--snapshot", SAMPLE / "robots-snapshot.parquet", query) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("consentcrawl: error:")


def test_every_path_in_a_config_resolves_against_its_folder(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path / "project", "../robots.parquet", output="dataset")
    shutil.copy(SAMPLE / "robots-snapshot.parquet", tmp_path / "robots.parquet")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    old = Path.cwd()
    try:
        os.chdir(elsewhere)
        assert cli("run", "--config", cfg) == 0
        assert (tmp_path / "project" / "dataset" / "manifest.json").is_file()
        assert cli("run", "--config", cfg, "--out", "typed") == 0  # typed on the command line: current folder
        assert (elsewhere / "typed" / "manifest.json").is_file()
    finally:
        os.chdir(old)
    assert not list(elsewhere.glob("dataset"))


# 7. Housekeeping ------------------------------------------------------------------------------


def _import_graph() -> dict[str, set[str]]:
    """pipeline module -> pipeline modules it imports, lazy (function-level) imports included."""
    import ast

    mods: dict[str, Path] = {}
    for p in (ROOT / "pipeline").rglob("*.py"):
        name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
        """Every node but those under `if TYPE_CHECKING:` (imports for type hints only)."""
        out, todo = [], [tree]
        while todo:
            node = todo.pop()
            out.append(node)
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                todo.extend(node.orelse)
                continue
            todo.extend(ast.iter_child_nodes(node))
        return out

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in runtime_nodes(ast.parse(p.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    graph[m].add(sub if sub in mods else node.module)
            elif isinstance(node, ast.Import):
                graph[m].update(a.name for a in node.names if a.name.startswith("pipeline"))
    return {m: {t for t in ts if t in mods and t != m} for m, ts in graph.items()}


def test_no_module_of_the_package_imports_one_that_imports_it_back() -> None:
    """A cycle (publish <-> report was one) means neither module can be read, or moved, alone."""
    graph = _import_graph()
    cycles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    assert not cycles, cycles[:5]
    assert "pipeline.manifest.publish" not in graph["pipeline.manifest.report"]
    assert not (ROOT / "pipeline" / "langfilter.py").exists()  # the language stage lives in pipeline/langid/
    assert not list(ROOT.glob("*.whl"))


def test_production_code_holds_no_fault_injection() -> None:
    text = "\n".join(p.read_text("utf-8") for p in (ROOT / "pipeline").rglob("*.py"))
    for needle in ("CONSENTCRAWL_FAULT", "os._exit(", "CRASH_ON"):
        assert needle not in text, needle


def test_an_inline_policy_may_extend_another_like_a_policy_file(tmp_path: Path) -> None:
    from pipeline.config import config_from_dict

    cfg = config_from_dict({"inputs": [str(SHARD)], "output": str(tmp_path / "o"), "robots_snapshot": "none",
                            "policy": {"name": "mine", "extends": "apertus", "signals": ["noai"]}}, tmp_path)
    assert cfg.policy.agents == load_policy("apertus").agents and cfg.policy.signals == ("noai",)
    (tmp_path / "p.yaml").write_text("name: local\nagents: [GPTBot]\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    cfg = config_from_dict({"inputs": [str(SHARD)], "output": str(tmp_path / "o"), "robots_snapshot": "none",
                            "policy": {"extends": "../p.yaml", "scope": "host"}}, sub)
    assert cfg.policy.agents == ("GPTBot",) and cfg.policy.scope == "host"
