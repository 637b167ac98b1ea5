"""docs/config.md lists every key the config accepts, generated from the config's own definitions.

A key added to pipeline/config.py (or to a policy) without a meaning fails here, and so does a
docs/config.md that is not what `python -m pipeline.config_reference` prints.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline import config as config_module
from pipeline import config_reference as ref
from pipeline.config import ConfigError, config_from_dict, load_config
from pipeline.optout import policy as policy_module

SAMPLE = ROOT / "pipeline" / "sample"
SNAPSHOT = SAMPLE / "robots-snapshot.parquet"
REGENERATE = "regenerate it with `python -m pipeline.config_reference --write`"


def test_every_accepted_key_has_a_meaning() -> None:
    missing = ref.undocumented()
    assert not missing, (f"config key(s) without a meaning: {', '.join(missing)}; add one line each to KEY_DOCS "
                         f"(policy: POLICY_KEY_DOCS) in pipeline/config_reference.py, then {REGENERATE}")


def test_no_meaning_for_a_key_the_config_refuses() -> None:
    gone = ref.stale()
    assert not gone, (f"documented but no longer accepted: {', '.join(gone)}; "
                      "remove them from pipeline/config_reference.py")


def test_docs_config_md_is_the_generated_reference() -> None:
    path = ROOT / "docs" / "config.md"
    assert path.is_file(), f"docs/config.md is missing: {REGENERATE}"
    assert path.read_text("utf-8") == ref.render(), f"docs/config.md is out of date: {REGENERATE}"


def test_a_new_key_without_a_meaning_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """What happens when someone adds a key to the validator and forgets the docs."""
    monkeypatch.setattr(config_module, "_TOP_KEYS", {*config_module._TOP_KEYS, "no_such_key"})
    monkeypatch.setattr(policy_module, "POLICY_KEYS", {*policy_module.POLICY_KEYS, "crawl_delay"})
    assert {"no_such_key", "policy:crawl_delay"} <= set(ref.undocumented())
    with pytest.raises(SystemExit, match="KEY_DOCS") as info:
        ref.render()
    assert "no_such_key" in str(info.value) and "policy:crawl_delay" in str(info.value)


def _probe(data: dict[str, object]) -> str:
    """The first complaint the validator has about `data` (it never gets past the missing input)."""
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, ROOT)
    return str(info.value)


def test_every_documented_key_is_accepted_by_the_validator() -> None:
    """The key list is introspected; check it against what config_from_dict really accepts and refuses."""
    sections = {k for k in ref.accepted_keys() if "." in k}
    for key in ref.top_keys():
        assert "unknown config key" not in _probe({key: None}), key
    assert "unknown config key 'no_such_key'" in _probe({"no_such_key": None})
    base = {"inputs": ["no-such-input.warc.gz"], "output": "o", "robots_snapshot": str(SNAPSHOT)}
    for key in sorted(sections) + ["langid.no_such_key"]:
        section, name = key.split(".")
        cls = ref._section_classes()[section]
        default = getattr(cls(), name, "x")
        value = list(default) if isinstance(default, tuple) else default
        message = _probe({**base, section: {name: value}})
        if key in sections:
            assert message == "input file not found: no-such-input.warc.gz", (key, message)
        else:
            assert message == f"unknown config key '{key}'"


def test_documented_defaults_are_what_a_config_without_them_gets(tmp_path: Path) -> None:
    """The default column comes from the dataclasses; a config that omits a key must get exactly that."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"inputs: ['{SAMPLE / 'sample-00000.warc.gz'}']\noutput: {tmp_path / 'out'}\n"
                   f"robots_snapshot: {SNAPSHOT}\n")
    loaded = load_config(cfg)
    checked = 0
    for f in dataclasses.fields(config_module.RunConfig):
        if f.name in config_module._TOP_KEYS and f.name != "robots_snapshot" and f.default is not dataclasses.MISSING:
            assert getattr(loaded, f.name) == f.default, f.name
            checked += 1
    for name, cls in ref._section_classes().items():
        for f in dataclasses.fields(cls):
            assert getattr(getattr(loaded, name), f.name) == getattr(cls(), f.name), f"{name}.{f.name}"
            checked += 1
    assert loaded.policy.name == "apertus"  # the documented default of `policy`
    assert checked >= 15


def test_generator_prints_the_reference_and_names_every_key() -> None:
    res = subprocess.run([sys.executable, "-m", "pipeline.config_reference"], capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr
    text = res.stdout.decode("utf-8")
    assert text == ref.render()
    for key in ref.accepted_keys():
        assert f"| `{key}` |" in text or f"## `{key}`" in text, key
    for key in ref.policy_keys():
        assert f"| `{key}` |" in text, key
    # Facts the reader needs that the dataclasses alone would not give.
    assert "| `tdmrep_snapshot` | path | unset |" in text
    assert "| `workers` | integer | `2` |" in text
    assert "| `limits.max_payload_bytes` | integer | `8388608` |" in text
    assert "resolves against the folder of\n  the config file" in text
