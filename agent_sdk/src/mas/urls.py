"""URL helpers: never show a password in a log line or an error."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["redact_url", "with_credentials"]


def redact_url(url: str) -> str:
    """`url` with any password replaced by ``***``, safe to log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def with_credentials(url: str, username: str, password: str) -> str:
    """`url` authenticating as `username` with `password` (any credentials in it replaced)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
