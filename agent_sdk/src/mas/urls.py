"""URL helpers: never show a password in a log line or an error."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["redact_url", "with_credentials", "without_credentials"]

_SECRET_QUERY = ("password", "sentinel_password")
"""Query parameters that carry a password (redis-py's ``password``, the sentinels')."""
_DATA_NODE_QUERY = ("username", "password")
"""Query parameters that name who a client is on the data nodes (redis-py lets them
override the user part); the sentinels' own ``sentinel_*`` ones are another principal."""


def redact_url(url: str) -> str:
    """`url` with any password (in the user part or the query) replaced by ``***``, safe to log.

    Works for the multi-host forms too (``redis+sentinel://h1:1,h2:2/service``).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable Redis URL>"
    userinfo, at, hosts = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hosts}" if colon and user else f"***@{hosts}" if colon else netloc
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(name in _SECRET_QUERY for name, _ in pairs):
        query = urlencode([(n, "***" if n in _SECRET_QUERY else v) for n, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def without_credentials(url: str) -> str:
    """`url` with no data-node credentials: neither in the user part nor in the query."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = parts.query
    if any(name in _DATA_NODE_QUERY for name, _ in pairs):
        query = urlencode([(n, v) for n, v in pairs if n not in _DATA_NODE_QUERY])
    return urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))


def with_credentials(url: str, username: str, password: str) -> str:
    """`url` authenticating as `username` with `password` (any credentials in it replaced)."""
    parts = urlsplit(without_credentials(url))
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
