"""The configuration layers and typed getters."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine

from app.config import ConfigError, UnknownOption, load_config
from app.extensions import normalize_db_url


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("STABLEFLOW_CONFIG", raising=False)
    return tmp_path


def test_defaults(home):
    conf = load_config(environ={})
    assert conf.get("api", "auth_backends") == "auth_backends.deny_all"
    assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{home}/stableflow.db"
    assert conf.getboolean("core", "load_examples") is True
    assert conf.get("webserver", "web_server_host") == "127.0.0.1"
    assert conf.getint("webserver", "web_server_port") == 8080
    assert conf.getint("api", "maximum_page_limit") == 100


def test_first_run_creates_user_file_with_fresh_keys(home):
    first = load_config(environ={})
    user_file = home / "stableflow.cfg"
    assert user_file.exists()
    assert oct(user_file.stat().st_mode & 0o777) == "0o600"
    secret = first.get("webserver", "secret_key")
    fernet = first.get("core", "fernet_key")
    assert len(secret) >= 32
    assert len(fernet) == 44
    again = load_config(environ={})
    assert again.get("webserver", "secret_key") == secret


def test_keys_differ_between_installations(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path / "a"))
    a = load_config(environ={}).get("webserver", "secret_key")
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path / "b"))
    b = load_config(environ={}).get("webserver", "secret_key")
    assert a != b


def test_environment_beats_file_and_overrides_beat_environment(home):
    (home / "stableflow.cfg").write_text("[api]\nmaximum_page_limit = 50\n")
    assert load_config(environ={}).getint("api", "maximum_page_limit") == 50
    env = {"STABLEFLOW__API__MAXIMUM_PAGE_LIMIT": "70"}
    assert load_config(environ=env).getint("api", "maximum_page_limit") == 70
    conf = load_config({"api": {"maximum_page_limit": 90}}, environ=env)
    assert conf.getint("api", "maximum_page_limit") == 90


def test_stableflow_config_names_the_file(home, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere.cfg"
    other.write_text("[webserver]\nweb_server_port = 9999\n")
    conf = load_config(environ={"STABLEFLOW_CONFIG": str(other)})
    # load_config reads the path from the process environment.
    monkeypatch.setenv("STABLEFLOW_CONFIG", str(other))
    conf = load_config()
    assert conf.getint("webserver", "web_server_port") == 9999
    assert not (home / "stableflow.cfg").exists()


def test_unknown_key_in_user_file_warns(home, caplog):
    (home / "stableflow.cfg").write_text("[api]\nmaximum_page_limt = 5\n")
    with caplog.at_level(logging.WARNING):
        load_config(environ={})
    assert "maximum_page_limt" in caplog.text


def test_typed_getters(home):
    conf = load_config(
        {"api": {"x_list": "a, b,,c", "x_bool": "t", "x_float": "1.5", "x_bad": "nope"}}, environ={}
    )
    assert conf.getlist("api", "x_list") == ["a", "b", "c"]
    assert conf.getboolean("api", "x_bool") is True
    assert conf.getfloat("api", "x_float") == 1.5
    with pytest.raises(ConfigError):
        conf.getint("api", "x_bad")
    with pytest.raises(ConfigError):
        conf.getboolean("api", "x_bad")


def test_names_are_case_insensitive_and_unknown_raise(home):
    conf = load_config(environ={})
    assert conf.get("API", "MAXIMUM_PAGE_LIMIT") == "100"
    with pytest.raises(UnknownOption, match=r"\[api/nope\]"):
        conf.get("api", "nope")
    with pytest.raises(UnknownOption, match=r"\[nosuch\]"):
        conf.get("nosuch", "key")


def test_every_default_option_has_a_comment():
    from app.paths import default_config_path

    lines = default_config_path().read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith(("#", "[")) and "=" in line:
            assert lines[index - 1].startswith("#"), f"option without a comment: {line}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p%40ss@db:5432/airflow", "postgresql+psycopg://u:p%40ss@db:5432/airflow"),
        ("postgres://u:p%40ss@db:5432/airflow", "postgresql+psycopg://u:p%40ss@db:5432/airflow"),
        ("postgresql+psycopg://u@db/airflow?sslmode=require", "postgresql+psycopg://u@db/airflow?sslmode=require"),
        ("sqlite:////var/lib/stableflow/stableflow.db", "sqlite:////var/lib/stableflow/stableflow.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_urls_use_psycopg_3_and_leave_sqlite_alone(url, expected):
    normalized = normalize_db_url(url)
    assert normalized == expected
    dialect = create_engine(normalized).dialect
    assert (dialect.name, dialect.driver) == (("postgresql", "psycopg") if "postgres" in url else ("sqlite", "pysqlite"))
