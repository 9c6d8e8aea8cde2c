"""The secret box: AES-256-GCM tokens bound to a context, a key file made once with private
permissions, and a key ring that can grow without breaking tokens already stored."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from gateway.core.errors import ConfigurationError
from gateway.core.secretbox import DATA_KEY_FILE_NAME, DataKey, SecretBox, UnsealError


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "pki" / DATA_KEY_FILE_NAME


@pytest.fixture
def box(key_file: Path) -> SecretBox:
    assert SecretBox.initialise(key_file)
    return SecretBox.load(key_file)


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_sealed_secret_opens_for_its_context_and_does_not_show_in_the_token(
    box: SecretBox,
) -> None:
    token = box.seal(b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", context="totp:acc_one")
    assert token.isascii() and "=" not in token and "+" not in token and "/" not in token
    assert b"JBSWY3DP" not in base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert box.open(token, context="totp:acc_one") == b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    assert box.seal(b"same", context="c") != box.seal(b"same", context="c")  # fresh nonces


def test_a_token_moved_to_another_context_is_refused(box: SecretBox) -> None:
    token = box.seal(b"secret", context="totp:acc_alice")
    with pytest.raises(UnsealError):
        box.open(token, context="totp:acc_mallory")


@pytest.mark.parametrize("index", [1, 9, 21, -1], ids=["key-id", "nonce", "ciphertext", "tag"])
def test_a_tampered_token_is_refused(box: SecretBox, index: int) -> None:
    token = box.seal(b"secret", context="c")
    with pytest.raises(UnsealError):
        box.open(_flip(token, index), context="c")


@pytest.mark.parametrize("token", ["", "not base64!", "AQ", "Ag" + "A" * 60])
def test_junk_and_unknown_versions_are_refused(box: SecretBox, token: str) -> None:
    with pytest.raises(UnsealError):
        box.open(token, context="c")


def test_initialise_makes_a_private_file_once(key_file: Path) -> None:
    assert SecretBox.initialise(key_file) is True
    first = key_file.read_bytes()
    assert SecretBox.initialise(key_file) is False
    assert key_file.read_bytes() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert [p.name for p in key_file.parent.iterdir()] == [DATA_KEY_FILE_NAME]


def test_a_missing_key_file_is_reported_on_first_use_not_at_load(key_file: Path) -> None:
    box = SecretBox.load(key_file)
    with pytest.raises(ConfigurationError, match="run 'govconnect init'"):
        box.seal(b"x", context="c")


def test_a_damaged_key_file_is_refused_with_a_clear_message(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True)
    key_file.write_text('{"format": "govconnect-data-keys/1", "keys": []}')
    with pytest.raises(ConfigurationError, match="damaged"):
        SecretBox.load(key_file).seal(b"x", context="c")


def test_a_new_key_seals_and_old_tokens_still_open(box: SecretBox, key_file: Path) -> None:
    old_token = box.seal(b"old", context="c")
    document = json.loads(key_file.read_text())
    newer = DataKey.generate()
    document["keys"].append({**newer.to_json(), "created_at": "2999-01-01T00:00:00+00:00"})
    key_file.write_text(json.dumps(document))

    # The running box meets a token under the new key and re-reads the ring.
    reloaded = SecretBox.load(key_file)
    new_token = reloaded.seal(b"new", context="c")
    assert base64.urlsafe_b64decode(new_token + "==")[1:9] == newer.kid
    assert box.open(new_token, context="c") == b"new"
    assert reloaded.open(old_token, context="c") == b"old"
