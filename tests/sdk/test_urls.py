"""URL helpers: credentials replaced or removed wherever a URL can carry them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from mas.urls import with_credentials, without_credentials


def test_without_credentials_drops_the_user_part_and_the_query_credentials() -> None:
    url = "redis://admin:s3cret@h:6379/0?password=s3cret&username=admin&socket_timeout=5"
    bare = without_credentials(url)
    assert "s3cret" not in bare and "admin" not in bare
    assert urlsplit(bare).netloc == "h:6379"
    assert parse_qs(urlsplit(bare).query) == {"socket_timeout": ["5"]}


def test_without_credentials_keeps_the_sentinels_own_user() -> None:
    url = "redis+sentinel://a:pw@h1:1,h2:2/mas?sentinel_username=s&sentinel_password=spw"
    assert without_credentials(url) == "redis+sentinel://h1:1,h2:2/mas?" + (
        "sentinel_username=s&sentinel_password=spw"
    )


def test_with_credentials_replaces_credentials_given_in_the_query_too() -> None:
    # redis-py lets a query password override the user part: an administrator's password
    # there would otherwise travel into every URL built from this one.
    agent = with_credentials("redis://h:1/0?password=adminpw", "agent.x", "p@ss")
    assert "adminpw" not in agent
    assert agent == "redis://agent.x:p%40ss@h:1/0"
