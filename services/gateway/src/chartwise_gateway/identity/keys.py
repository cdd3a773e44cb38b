"""API keys: `cw_<prefix>_<secret>`, random, shown once, stored only as an HMAC under the server's pepper."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

KEY_SCHEME = "cw"
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY_PATTERN = re.compile(rf"^{KEY_SCHEME}_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{32,128}})$")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: `plaintext` is given to its owner once and never stored."""

    prefix: str
    plaintext: str


def generate_key() -> NewKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return NewKey(prefix=prefix, plaintext=f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}")


def key_prefix(presented: str) -> str | None:
    """The prefix of a well-formed key, or None for anything that cannot be one of our keys."""
    match = _KEY_PATTERN.match(presented)
    return match.group(1) if match else None


def hash_key(plaintext: str, *, pepper: bytes) -> str:
    return hmac.new(pepper, plaintext.encode(), hashlib.sha256).hexdigest()


def key_matches(presented: str, stored_hash: str, *, pepper: bytes) -> bool:
    return hmac.compare_digest(hash_key(presented, pepper=pepper), stored_hash)
