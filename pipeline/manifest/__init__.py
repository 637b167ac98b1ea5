"""The provenance manifest: build it at the end of a run, verify it anywhere."""

from pipeline.manifest.build import MANIFEST_NAME, build_manifest, dump_manifest, merkle_root
from pipeline.manifest.verify import verify

__all__ = ["MANIFEST_NAME", "build_manifest", "dump_manifest", "merkle_root", "verify"]
