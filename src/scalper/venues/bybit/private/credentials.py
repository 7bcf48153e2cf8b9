"""The API key and secret: from the environment or a private key file, and never shown.

`Credentials` keeps both out of every repr, str and pickle; `sign` is the only use of the
secret. A key file must not be readable by group or others (like ssh's private keys): anything
else is refused with the command that fixes it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final, NoReturn

from scalper.venues.bybit.private.errors import CredentialsError

KEY_VAR: Final = "BYBIT_API_KEY"
SECRET_VAR: Final = "BYBIT_API_SECRET"


class Credentials:
    """An API key and its secret. Shows neither: repr names only where they came from."""

    __slots__ = ("_key", "_secret", "source")

    def __init__(self, api_key: str, api_secret: str, source: str = "code") -> None:
        if not api_key or not api_secret:
            raise CredentialsError(f"Bybit API key or secret is empty ({source})")
        self._key = api_key
        self._secret = api_secret.encode()
        self.source = source

    @property
    def api_key(self) -> str:
        """The key itself: it goes into request headers, never into logs."""
        return self._key

    def sign(self, message: str) -> str:
        """Lowercase hex HMAC-SHA256 of `message` with the secret."""
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"Credentials(<redacted>, source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("Credentials cannot be pickled (they would leave the process)")


def load_credentials(key_file: str = "", environ: Mapping[str, str] | None = None) -> Credentials:
    """The key and secret from BYBIT_API_KEY / BYBIT_API_SECRET, else from `key_file`."""
    env = os.environ if environ is None else environ
    key, secret = env.get(KEY_VAR, ""), env.get(SECRET_VAR, "")
    if key or secret:
        if not (key and secret):
            missing = SECRET_VAR if key else KEY_VAR
            raise CredentialsError(f"{missing} is not set while its partner is: set both")
        return Credentials(key, secret, source="environment")
    if not key_file:
        raise CredentialsError(
            f"no Bybit API key: set {KEY_VAR} and {SECRET_VAR}, or trading.bybit.key_file"
        )
    return _from_file(Path(key_file))


def _from_file(path: Path) -> Credentials:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CredentialsError(f"cannot read the key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"the key file {path} may be read by group or others (mode {stat.S_IMODE(mode):o}):"
            f" refusing it; run `chmod 600 {path}`"
        )
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError as exc:
        raise CredentialsError(f"cannot read the key file {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or name.strip() not in (KEY_VAR, SECRET_VAR):
            # The line may hold a secret: name its number, never its text.
            raise CredentialsError(
                f"{path}, line {number}: expected {KEY_VAR}=... or {SECRET_VAR}=..."
            )
        values[name.strip()] = value.strip().strip("'\"")
    if not values.get(KEY_VAR) or not values.get(SECRET_VAR):
        raise CredentialsError(f"the key file {path} needs both {KEY_VAR} and {SECRET_VAR}")
    return Credentials(values[KEY_VAR], values[SECRET_VAR], source=f"key file {path}")
