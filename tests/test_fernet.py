"""Connection secrets at rest: app/fernet.py, and key rotation through the API."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.config import load_config
from app.extensions import db
from app.fernet import FernetKeyError, decrypt, encrypt, rotate
from app.models import Connection
from tests.conftest import FERNET_KEY, basic_auth, make_app

NEW_KEY = Fernet.generate_key().decode()


def conf_with(keys: str):
    return load_config({"core": {"fernet_key": keys}}, environ={}, create_user_file=False)


def test_encrypt_then_decrypt():
    conf = conf_with(FERNET_KEY)
    token = encrypt(conf, "pässword")
    assert "pässword" not in token
    assert decrypt(conf, token) == "pässword"
    assert encrypt(conf, None) is None
    assert decrypt(conf, None) is None


def test_first_key_encrypts_and_every_key_decrypts():
    old = conf_with(FERNET_KEY)
    both = conf_with(f"{NEW_KEY}, {FERNET_KEY}")
    old_token = encrypt(old, "secret")
    assert decrypt(both, old_token) == "secret"
    new_token = encrypt(both, "secret")
    assert Fernet(NEW_KEY.encode()).decrypt(new_token.encode()) == b"secret"
    rotated = rotate(both, old_token)
    assert decrypt(conf_with(NEW_KEY), rotated) == "secret"


@pytest.mark.parametrize(
    ("keys", "message"),
    [("", "[core] fernet_key is not set"), ("not-a-key", "[core] fernet_key holds an invalid Fernet key")],
)
def test_unusable_keys(keys, message):
    with pytest.raises(FernetKeyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        encrypt(conf_with(keys), "x")


def test_token_from_an_unknown_key_is_a_clear_error():
    token = encrypt(conf_with(NEW_KEY), "x")
    with pytest.raises(FernetKeyError, match="cannot be decrypted with any key"):
        decrypt(conf_with(FERNET_KEY), token)


def test_api_reads_old_secrets_and_writes_new_ones_during_rotation(app, client):
    body = {"connection_id": "c1", "conn_type": "http", "password": "pw", "extra": '{"token": "t", "a": 1}'}
    assert client.post("/api/v1/connections", json=body, headers=basic_auth("admin")).status_code == 200
    rotating = make_app(core={"fernet_key": f"{NEW_KEY},{FERNET_KEY}"}).test_client()
    response = rotating.get("/api/v1/connections/c1", headers=basic_auth("admin"))
    assert response.json["extra"] == '{"token": "***", "a": 1}'
    rotating.patch("/api/v1/connections/c1?update_mask=password", json={"password": "pw2"}, headers=basic_auth("admin"))
    with app.app_context():
        row = db.session.execute(select(Connection)).scalar_one()
        assert Fernet(NEW_KEY.encode()).decrypt(row.password.encode()) == b"pw2"


def test_unreadable_secret_is_a_500_that_says_why(client):
    body = {"connection_id": "c1", "conn_type": "http", "extra": "{}"}
    client.post("/api/v1/connections", json=body, headers=basic_auth("admin"))
    other = make_app(core={"fernet_key": NEW_KEY}).test_client()
    response = other.get("/api/v1/connections/c1", headers=basic_auth("admin"))
    assert response.status_code == 500
    assert response.json["detail"].startswith("A stored connection secret cannot be decrypted with any key")
