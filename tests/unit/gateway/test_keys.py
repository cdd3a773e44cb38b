"""API keys: the format, the prefix that identifies them, and hashing under the pepper."""

from __future__ import annotations

from chartwise_gateway.identity.keys import generate_key, hash_key, key_matches, key_prefix

PEPPER = b"pepper"


def test_generated_key_carries_its_prefix() -> None:
    new = generate_key()

    assert new.plaintext.startswith(f"cw_{new.prefix}_")
    assert key_prefix(new.plaintext) == new.prefix


def test_keys_are_random() -> None:
    assert len({generate_key().plaintext for _ in range(100)}) == 100


def test_strings_that_cannot_be_keys_have_no_prefix() -> None:
    for text in ("", "cw_", "cw_short_secret", "xx_abcdefgh_" + "a" * 43, "cw_ABCDEFGH_" + "a" * 43):
        assert key_prefix(text) is None


def test_key_matches_only_its_own_hash_under_the_same_pepper() -> None:
    new = generate_key()
    stored = hash_key(new.plaintext, pepper=PEPPER)

    assert key_matches(new.plaintext, stored, pepper=PEPPER)
    assert not key_matches(new.plaintext, stored, pepper=b"other")
    assert not key_matches(generate_key().plaintext, stored, pepper=PEPPER)
    assert new.plaintext not in stored
