"""Encryption of platform credentials at rest.

Credentials are sealed with Fernet (AES-128-CBC with HMAC-SHA256) under a
key derived by HKDF-SHA256 from `SYNDIC_CREDENTIALS_KEY`. The user id and
platform are bound into the key derivation, so a ciphertext copied to
another user's row does not decrypt.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from syndic import errors


class CredentialBox:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def seal(self, user_id: str, platform: str, credentials: dict[str, Any]) -> bytes:
        plaintext = json.dumps(credentials, separators=(",", ":")).encode()
        return self._fernet(user_id, platform).encrypt(plaintext)

    def open(self, user_id: str, platform: str, ciphertext: bytes) -> dict[str, Any]:
        try:
            plaintext = self._fernet(user_id, platform).decrypt(ciphertext)
        except InvalidToken:
            raise errors.ConfigurationError(
                f"stored {platform} credentials cannot be decrypted; "
                "was SYNDIC_CREDENTIALS_KEY changed?"
            ) from None
        loaded: dict[str, Any] = json.loads(plaintext)
        return loaded

    def _fernet(self, user_id: str, platform: str) -> Fernet:
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"syndic-credentials-v1",
            info=f"{user_id}:{platform}".encode(),
        )
        return Fernet(base64.urlsafe_b64encode(hkdf.derive(self._secret)))
