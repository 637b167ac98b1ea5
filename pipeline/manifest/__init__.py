"""The provenance manifest: build it at the end of a run, verify it anywhere, and work on
released dataset folders (lookup, revoke, publish, report, sign)."""

from pipeline.manifest.build import MANIFEST_NAME, SCHEMA_VERSION, build_manifest, dump_manifest, merkle_root
from pipeline.manifest.verify import verify

__all__ = ["MANIFEST_NAME", "SCHEMA_VERSION", "build_manifest", "dump_manifest", "merkle_root", "verify"]
