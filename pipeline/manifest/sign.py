"""Detached Ed25519 signatures of manifest.json.

The signature file holds the 64 raw signature bytes over the exact bytes of manifest.json, so
anyone can check it without consentcrawl:
`openssl pkeyutl -verify -pubin -inkey key.pub -rawin -in manifest.json -sigfile manifest.json.sig`.
Keys are PEM (PKCS#8 private, SubjectPublicKeyInfo public).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipeline.manifest.build import MANIFEST_NAME, SIGNATURE_NAME


class SigningKeyError(ValueError):
    """A key file that is missing or not an Ed25519 key of the expected kind."""


def keygen(prefix: str | Path) -> tuple[Path, Path]:
    """Write PREFIX.key (private, mode 0600) and PREFIX.pub; refuse to overwrite."""
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    parent = key_path.parent
    if not parent.exists():
        raise SigningKeyError(f"{parent}: folder does not exist (create it first)")
    if not parent.is_dir():
        raise SigningKeyError(f"{parent}: not a folder")
    for p in (key_path, pub_path):
        if p.exists() or p.is_symlink():
            raise SigningKeyError(f"{p}: already exists (not overwritten)")
    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    written: list[Path] = []
    try:  # both files or neither: a lone private key would only confuse
        for path, data, mode in ((key_path, priv, 0o600), (pub_path, pub, 0o644)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            written.append(path)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        where = exc.filename or parent
        raise SigningKeyError(f"{where}: cannot write key file ({exc.strerror or type(exc).__name__})") from exc
    return key_path, pub_path


MAX_KEY_BYTES = 64 * 1024  # a PEM Ed25519 key is ~120 bytes; never slurp a huge file given by mistake


def _read(path: str | Path) -> bytes:
    p = Path(path)
    if p.is_dir():
        raise SigningKeyError(f"{p}: a folder, not a key file")
    if not p.is_file():
        raise SigningKeyError(f"{p}: key file not found")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise SigningKeyError(f"{p}: cannot read key file ({exc.strerror or type(exc).__name__})") from exc
    if len(raw) > MAX_KEY_BYTES:
        raise SigningKeyError(f"{p}: {p.stat().st_size} bytes, too large to be a PEM key")
    return raw


def _first_line(exc: Exception) -> str:
    """cryptography's messages can span lines (OpenSSL error stacks); the CLI prints one."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    raw = _read(path)
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({_first_line(exc)})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    raw = _read(path)
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{path}: not a PEM public key ({_first_line(exc)})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return key


def sign_dataset(folder: str | Path, key_path: str | Path) -> Path:
    """Sign DIR/manifest.json with the private key; write DIR/manifest.json.sig atomically."""
    root = Path(folder)
    key = load_private_key(key_path)
    out = root / SIGNATURE_NAME
    tmp = out.with_name(out.name + ".tmp")
    try:
        signature = key.sign((root / MANIFEST_NAME).read_bytes())
        tmp.write_bytes(signature)
        tmp.replace(out)
    except OSError as exc:  # read-only folder, disk full: the user's to fix, not a traceback
        tmp.unlink(missing_ok=True)
        raise SigningKeyError(f"{exc.filename or out}: cannot write the signature "
                              f"({exc.strerror or type(exc).__name__})") from exc
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
