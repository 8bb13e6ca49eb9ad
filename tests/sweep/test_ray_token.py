"""A driver given a Ray cluster's address uses the cluster's token when it has one, and
says what to do when the cluster refuses it (haco/sweep/resources.py)."""

import pytest

from haco.config import ConfigError
from haco.sweep import resources


@pytest.fixture
def no_token(monkeypatch, tmp_path):
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_no_token_leaves_authentication_off(no_token):
    import os

    assert resources.use_cluster_token() is None and "RAY_AUTH_MODE" not in os.environ


def test_the_default_token_file_turns_token_authentication_on(no_token):
    import os

    (no_token / ".ray").mkdir()
    (no_token / ".ray" / "auth_token").write_text("secret")
    assert resources.use_cluster_token() == str(no_token / ".ray" / "auth_token")
    assert os.environ["RAY_AUTH_MODE"] == "token"


def test_ray_s_precedence_and_a_mode_the_user_set(no_token, monkeypatch):
    import os

    path = no_token / "tok"
    path.write_text("secret")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(path))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert resources.use_cluster_token() == str(path)
    assert os.environ["RAY_AUTH_MODE"] == "disabled"  # the user's choice stays
    monkeypatch.setenv("RAY_AUTH_TOKEN", "secret")
    assert resources.token_source() == "RAY_AUTH_TOKEN"


def test_a_token_path_that_is_not_there_is_a_config_error(no_token, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(no_token / "nope"))
    with pytest.raises(ConfigError, match="RAY_AUTH_TOKEN_PATH=.*no such file"):
        resources.token_source()


def test_the_refusal_names_the_token_file_the_mode_and_the_fix(no_token):
    message = resources.auth_advice("127.0.0.1:6391", None, ConnectionError("InvalidAuthToken"))
    assert "127.0.0.1:6391" in message and "which has no token" in message
    assert "~/.ray/auth_token" in message and "RAY_AUTH_MODE" in message
    assert "ray get-auth-token" in message and "secret" not in message
