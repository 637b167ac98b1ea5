"""Detached Ed25519 signatures of manifest.json.

The signature file holds the 64 raw signature bytes over the exact bytes of manifest.json, so
anyone can check it without consentcrawl:
`openssl pkeyutl -verify -pubin -inkey key.pub -rawin -in manifest.json -sigfile manifest.json.sig`.
Keys are PEM (PKCS#8 private, SubjectPublicKeyInfo public).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipeline.manifest.build import MANIFEST_NAME, SIGNATURE_NAME


class SigningKeyError(ValueError):
    """A key file that is missing or not an Ed25519 key of the expected kind."""


def keygen(prefix: str | Path) -> tuple[Path, Path]:
    """Write PREFIX.key (private, mode 0600) and PREFIX.pub; refuse to overwrite."""
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for p in (key_path, pub_path):
        if p.exists():
            raise SigningKeyError(f"{p}: already exists (not overwritten)")
    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(priv)
    pub_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_path, pub_path


def _read(path: str | Path) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise SigningKeyError(f"{p}: key file not found")
    return p.read_bytes()


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    raw = _read(path)
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    raw = _read(path)
    try:
        key = serialization.load_pem_public_key(raw)
    except ValueError as exc:
        raise SigningKeyError(f"{path}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return key


def sign_dataset(folder: str | Path, key_path: str | Path) -> Path:
    """Sign DIR/manifest.json with the private key; write DIR/manifest.json.sig atomically."""
    root = Path(folder)
    key = load_private_key(key_path)
    signature = key.sign((root / MANIFEST_NAME).read_bytes())
    out = root / SIGNATURE_NAME
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(signature)
    tmp.replace(out)
    return out


def signature_problem(folder: str | Path, pubkey_path: str | Path) -> str | None:
    """None when DIR/manifest.json.sig is a valid signature of DIR/manifest.json by the key."""
    root = Path(folder)
    key = load_public_key(pubkey_path)
    sig_path = root / SIGNATURE_NAME
    if not sig_path.is_file():
        return f"{SIGNATURE_NAME}: missing (the manifest is not signed)"
    sig = sig_path.read_bytes()
    if len(sig) != 64:
        return f"{SIGNATURE_NAME}: {len(sig)} bytes, an Ed25519 signature has 64"
    try:
        key.verify(sig, (root / MANIFEST_NAME).read_bytes())
    except InvalidSignature:
        return f"{SIGNATURE_NAME}: signature does not match manifest.json and {Path(pubkey_path).name}"
    return None
