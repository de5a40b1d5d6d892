"""/version (no auth)."""
from __future__ import annotations

from app.version import __version__, git_version


def test_reports_version_and_git_revision(client):
    response = client.get("/api/v1/version")
    assert response.status_code == 200
    assert response.json == {"version": __version__, "git_version": git_version()}


def test_git_revision_is_read_from_the_checkout(tmp_path, monkeypatch):
    from app import version

    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("abc123\n")
    monkeypatch.setattr(version, "__file__", str(tmp_path / "app" / "version.py"))
    version.git_version.cache_clear()
    try:
        assert version.git_version() == "abc123"
        (git / "refs" / "heads" / "main").unlink()
        (git / "packed-refs").write_text("# pack-refs\ndef456 refs/heads/main\n")
        version.git_version.cache_clear()
        assert version.git_version() == "def456"
        (git / "HEAD").unlink()
        version.git_version.cache_clear()
        assert version.git_version() is None
    finally:
        monkeypatch.undo()
        version.git_version.cache_clear()


def test_unknown_revision_is_null(client, monkeypatch):
    from app.endpoints import version_endpoint

    monkeypatch.setattr(version_endpoint, "git_version", lambda: None)
    assert client.get("/api/v1/version").json == {"version": __version__, "git_version": None}
