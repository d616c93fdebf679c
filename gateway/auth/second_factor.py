"""The second factor (R14): TOTP secrets, encrypted at rest, and the time step a code is for.

A secret is made at enrolment and stored only encrypted (Fernet, with a key derived from
``GATEWAY_TOTP_KEY``), so a copy of the database alone cannot produce codes. A code is checked
against the current 30-second step and one step either side (clock drift); the step it matched
is what the caller stores as the user's last, so a code never works twice and an older one
never works after a newer one (RFC 6238, section 5.2).
"""

from __future__ import annotations

import base64
import hmac
import re
from datetime import datetime
from functools import lru_cache

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.errors import Unavailable
from gateway.settings import Settings

VALID_WINDOW = 1  # steps either side of now whose code still counts
CODE = re.compile(r"[0-9]{6}")  # ASCII digits only: \d also takes other scripts' digits
NOT_CONFIGURED = "R14: the second factor is not configured on this gateway (GATEWAY_TOTP_KEY)"


def new_secret() -> str:
    """A random base32 secret (160 bits), as authenticator apps expect it."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, settings: Settings) -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=settings.totp_issuer)


def encrypt(secret: str, settings: Settings) -> str:
    return _fernet(_key(settings)).encrypt(secret.encode()).decode()


def decrypt(stored: str, settings: Settings) -> str | None:
    """The secret; None if it was encrypted under another key (it can no longer be used)."""
    try:
        return _fernet(_key(settings)).decrypt(stored.encode()).decode()
    except InvalidToken:
        return None


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The latest time step around ``now`` whose code is ``code``; None if none is."""
    typed = code.replace(" ", "")
    if not CODE.fullmatch(typed):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current + VALID_WINDOW, current - VALID_WINDOW - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), typed):
            return step
    return None


def _key(settings: Settings) -> str:
    key = settings.totp_encryption_key
    if key is None:  # production signing in through an external provider only
        raise Unavailable(NOT_CONFIGURED)
    return key


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    """Fernet wants 32 random bytes: derive them from the configured key (any length)."""
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"gateway totp secrets"
    ).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))
