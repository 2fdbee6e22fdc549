"""``instore dashboard``: serving to the network needs a password, and says so (finding 18.5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from presence.cli import main
from presence.dashboard.auth import PASSWORD_ENV, read_password
from presence.errors import UsageError


def test_a_network_address_without_a_password_is_refused_with_the_reason(
    fashion_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    code = main(["dashboard", "--store", str(fashion_path), "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--host 0.0.0.0 serves the dashboard to the network: set a password" in err
    assert "docs/security.md" in err


def test_passwords_come_from_a_file_or_the_environment_and_must_be_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert read_password(None) is None
    monkeypatch.setenv(PASSWORD_ENV, "short")
    with pytest.raises(UsageError, match=f"{PASSWORD_ENV}.*at least 12"):
        read_password(None)
    monkeypatch.setenv(PASSWORD_ENV, "a long store passphrase")
    assert read_password(None) == "a long store passphrase"
    secret = tmp_path / "dashboard-password"
    secret.write_text("from the file, first line\nignored\n", encoding="utf-8")
    assert read_password(secret) == "from the file, first line"
    with pytest.raises(UsageError, match="--password-file.*cannot read"):
        read_password(tmp_path / "missing")
