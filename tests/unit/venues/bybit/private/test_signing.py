"""Signing against vectors computed here with the hmac module on literal strings."""

import hashlib
import hmac
import json
import os
import pickle
import stat

import pytest

from scalper.settings import LIVE_CONFIRMATION, BybitPrivateSettings
from scalper.venues.bybit.private.credentials import Credentials, load_credentials
from scalper.venues.bybit.private.endpoints import resolve_endpoints
from scalper.venues.bybit.private.errors import CredentialsError, LiveTradingRefused
from scalper.venues.bybit.private.signing import rest_headers, ws_auth_message

KEY = "XXXXXXXXXX"
SECRET = "test-secret-0123456789"


def _expected(message: str) -> str:
    return hmac.new(b"test-secret-0123456789", message.encode(), hashlib.sha256).hexdigest()


def test_get_signs_the_exact_query_string() -> None:
    creds = Credentials(KEY, SECRET)
    query = "category=option&symbol=BTC-29JUL22-25000-C"
    headers = rest_headers(creds, 1658384314791, 5000, query)
    assert headers["X-BAPI-SIGN"] == _expected(
        "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"
    )
    assert headers["X-BAPI-API-KEY"] == KEY
    assert headers["X-BAPI-TIMESTAMP"] == "1658384314791"
    assert headers["X-BAPI-RECV-WINDOW"] == "5000"
    assert headers["X-BAPI-SIGN"] == headers["X-BAPI-SIGN"].lower()
    assert len(headers["X-BAPI-SIGN"]) == 64


def test_post_signs_the_exact_body_bytes() -> None:
    creds = Credentials(KEY, SECRET)
    body = '{"category": "option"}'
    headers = rest_headers(creds, 1658385579423, 5000, body)
    assert headers["X-BAPI-SIGN"] == _expected('1658385579423XXXXXXXXXX5000{"category": "option"}')
    # One byte different (no space) is another signature: the body must be sent as signed.
    other = rest_headers(creds, 1658385579423, 5000, '{"category":"option"}')
    assert other["X-BAPI-SIGN"] != headers["X-BAPI-SIGN"]


def test_ws_auth_message() -> None:
    message = json.loads(ws_auth_message(Credentials(KEY, SECRET), 1662350400000))
    assert message == {
        "op": "auth",
        "args": [KEY, 1662350400000, _expected("GET/realtime1662350400000")],
    }


def test_credentials_never_show_themselves() -> None:
    creds = Credentials(KEY, SECRET, source="environment")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert KEY not in text and SECRET not in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_credentials_from_the_environment_first(tmp_path) -> None:
    creds = load_credentials("", {"BYBIT_API_KEY": "k1", "BYBIT_API_SECRET": "s1"})
    assert creds.api_key == "k1" and creds.source == "environment"
    with pytest.raises(CredentialsError, match="BYBIT_API_SECRET is not set"):
        load_credentials("", {"BYBIT_API_KEY": "k1"})
    with pytest.raises(CredentialsError, match="no Bybit API key"):
        load_credentials("", {})


def test_a_key_file_readable_by_others_is_refused(tmp_path) -> None:
    path = tmp_path / "bybit.keys"
    path.write_text("# testnet\nBYBIT_API_KEY=filekey\nBYBIT_API_SECRET='filesecret'\n")
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError, match="chmod 600") as caught:
        load_credentials(str(path), {})
    assert "filesecret" not in str(caught.value)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    creds = load_credentials(str(path), {})
    assert creds.api_key == "filekey"
    assert creds.sign("x") == hmac.new(b"filesecret", b"x", hashlib.sha256).hexdigest()


def test_a_bad_key_file_line_is_named_by_number_not_text(tmp_path) -> None:
    path = tmp_path / "bybit.keys"
    path.write_text("BYBIT_API_KEY=k\nsupersecretvalue\n")
    os.chmod(path, 0o600)
    with pytest.raises(CredentialsError, match="line 2") as caught:
        load_credentials(str(path), {})
    assert "supersecretvalue" not in str(caught.value)


def test_testnet_by_default_mainnet_only_when_confirmed() -> None:
    endpoints = resolve_endpoints(BybitPrivateSettings())
    assert endpoints == (
        "https://api-testnet.bybit.com",
        "wss://stream-testnet.bybit.com/v5/private",
        False,
    )
    with pytest.raises(LiveTradingRefused, match="live_confirmation"):
        resolve_endpoints(BybitPrivateSettings(live=True))
    with pytest.raises(LiveTradingRefused, match="mainnet"):
        resolve_endpoints(BybitPrivateSettings(rest_url="https://api.bybit.com"))
    live = resolve_endpoints(BybitPrivateSettings(live=True, live_confirmation=LIVE_CONFIRMATION))
    assert live == ("https://api.bybit.com", "wss://stream.bybit.com/v5/private", True)
    local = resolve_endpoints(
        BybitPrivateSettings(rest_url="http://127.0.0.1:9100", ws_url="ws://127.0.0.1:9100/x")
    )
    assert local.mainnet is False and local.rest_url == "http://127.0.0.1:9100"


def test_the_client_refuses_mainnet_or_missing_keys_before_any_connection(tmp_path) -> None:
    from scalper.venues.bybit.private import BybitExecution

    env = {"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET}
    with pytest.raises(LiveTradingRefused):
        BybitExecution.from_settings(BybitPrivateSettings(live=True), environ=env)
    with pytest.raises(CredentialsError):
        BybitExecution.from_settings(BybitPrivateSettings(), environ={})
    exposed = tmp_path / "keys"
    exposed.write_text(f"BYBIT_API_KEY={KEY}\nBYBIT_API_SECRET={SECRET}\n")
    os.chmod(exposed, 0o640)
    with pytest.raises(CredentialsError, match="group or others"):
        BybitExecution.from_settings(BybitPrivateSettings(key_file=str(exposed)), environ={})
