"""SafeFetcher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import zlib

import pytest
from ingest_server import LocalServer, Reply, running_server

from analyzer.ingest.fetch import (
    AddressPolicy,
    FetcherConfig,
    FetchRefused,
    SafeFetcher,
    decompress_gzip_bounded,
    parse_retry_after,
)

LOOPBACK_ONLY = ["127.0.0.0/8"]


@pytest.fixture(scope="module")
def server() -> LocalServer:
    with running_server() as running:
        yield running


def make_fetcher(**config: object) -> SafeFetcher:
    options = {
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "deadline": 10.0,
        "backoff": 0.01,
        "max_retry_after": 0.05,
        **config,
    }
    return SafeFetcher(FetcherConfig(**options), allow_private=True)


# --------------------------------------------------------------------------- address policy


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "fc00::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "ff02::1",
    ],
)
def test_policy_refuses_non_public_addresses(address: str) -> None:
    with pytest.raises(FetchRefused):
        AddressPolicy().check_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_policy_allows_public_addresses(address: str) -> None:
    AddressPolicy().check_address(address)


def test_metadata_addresses_refused_even_when_private_allowed() -> None:
    policy = AddressPolicy(allow_private=True)
    policy.check_address("10.0.0.1")
    for address in ("169.254.169.254", "fd00:ec2::254"):
        with pytest.raises(FetchRefused):
            policy.check_address(address)


def test_host_refused_when_any_resolved_address_is_private() -> None:
    resolver = {"mixed.test": ["93.184.216.34", "10.0.0.5"], "public.test": ["93.184.216.34"]}
    policy = AddressPolicy(resolver=lambda host, port: resolver[host])
    assert policy.resolve("public.test", 80) == ["93.184.216.34"]
    with pytest.raises(FetchRefused):
        policy.resolve("mixed.test", 80)


def test_loopback_refused_without_allow_private(server: LocalServer) -> None:
    path = server.unique("/feed.xml")
    url = server.route(path, Reply(body=b"<rss/>"))
    with SafeFetcher() as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "refused"
    assert "127.0.0.1" in (result.error or "")
    assert server.hits(path) == []


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/feed", "http://[::1]:9/x"],
)
def test_redirect_to_private_address_refused(server: LocalServer, target: str) -> None:
    path = server.unique()
    url = server.route(path, Reply(302, headers={"Location": target}))
    with SafeFetcher(policy=AddressPolicy(allowed_networks=LOOPBACK_ONLY)) as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "refused"
    assert "not public" in result.error or "metadata" in result.error
    assert len(server.hits(path)) == 1


def test_redirect_to_other_scheme_refused(server: LocalServer) -> None:
    path = server.unique()
    url = server.route(path, Reply(301, headers={"Location": "file:///etc/passwd"}))
    with make_fetcher() as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "refused"
    assert result.content == b""


def test_redirects_followed_and_capped(server: LocalServer) -> None:
    final = server.unique()
    server.route(final, Reply(body=b"arrived"))
    first = server.unique()
    server.route(first, Reply(302, headers={"Location": final}))
    loop = server.unique()
    server.route(loop, Reply(302, headers={"Location": loop}))
    with make_fetcher(max_redirects=3) as fetcher:
        result = fetcher.fetch(server.base + first)
        looping = fetcher.fetch(server.base + loop)
    assert result.ok and result.content == b"arrived"
    assert result.redirects == [server.base + final]
    assert looping.status == "failed" and "redirects" in looping.error
    assert len(server.hits(loop)) == 4


def test_connection_goes_to_the_checked_address(server: LocalServer) -> None:
    path = server.unique()
    server.route(path, Reply(body=b"hello"))
    answers = {"feeds.example.test": ["127.0.0.1"], "rebound.example.test": ["10.9.9.9"]}
    policy = AddressPolicy(
        allowed_networks=LOOPBACK_ONLY, resolver=lambda host, port: answers[host]
    )
    with SafeFetcher(FetcherConfig(retries=0), policy=policy) as fetcher:
        ok = fetcher.fetch(f"http://feeds.example.test:{server.port}{path}")
        refused = fetcher.fetch(f"http://rebound.example.test:{server.port}{path}")
    assert ok.ok and ok.content == b"hello"
    assert server.hits(path)[0]["host"] == f"feeds.example.test:{server.port}"
    assert refused.status == "refused"
    assert len(server.hits(path)) == 1


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "/etc/passwd", "http://"]
)
def test_non_http_urls_refused(url: str) -> None:
    with make_fetcher() as fetcher:
        assert fetcher.fetch(url).status == "refused"


# --------------------------------------------------------------------------- responses


def test_conditional_get_with_etag_and_last_modified(server: LocalServer) -> None:
    path = server.unique("/feed.xml")

    def handler(headers: dict[str, str]) -> Reply:
        if headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(
            body=b"<rss/>",
            headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
        )

    url = server.route(path, handler)
    with make_fetcher() as fetcher:
        first = fetcher.fetch(url)
        second = fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert first.ok and first.etag == '"v1"' and first.content == b"<rss/>"
    assert second.status == "not_modified" and second.http_status == 304 and second.content == b""
    assert second.etag == '"v1"'
    hits = server.hits(path)
    assert "if-none-match" not in hits[0]
    assert hits[1]["if-none-match"] == '"v1"'
    assert hits[1]["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


def test_user_agent_is_descriptive_and_configurable(server: LocalServer) -> None:
    path = server.unique()
    url = server.route(path, Reply(body=b"x"))
    with make_fetcher() as fetcher:
        fetcher.fetch(url)
    with make_fetcher(user_agent="custom-agent/1.0") as fetcher:
        fetcher.fetch(url)
    agents = [hit["user-agent"] for hit in server.hits(path)]
    assert agents[0].startswith("analyzer/") and "+http" in agents[0]
    assert agents[1] == "custom-agent/1.0"


def test_slow_endpoint_times_out(server: LocalServer) -> None:
    path = server.unique()
    url = server.route(path, Reply(body=b"late", delay=3.0))
    with make_fetcher(read_timeout=0.3, retries=0) as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "timeout"
    assert result.content == b""


def test_oversized_body_refused_with_and_without_content_length(server: LocalServer) -> None:
    big = b"x" * (300 * 1024)
    declared = server.route(server.unique(), Reply(body=big))
    undeclared = server.route(server.unique(), Reply(body=big, send_length=False))
    small = server.route(server.unique(), Reply(body=b"y" * 1000, send_length=False))
    with make_fetcher(max_bytes=100 * 1024) as fetcher:
        first = fetcher.fetch(declared)
        second = fetcher.fetch(undeclared)
        third = fetcher.fetch(small)
    assert first.status == "too_large" and "Content-Length" in first.error
    assert second.status == "too_large" and second.content == b""
    assert third.ok and third.content == b"y" * 1000


def test_gzip_bomb_stopped_at_the_decompressed_cap(server: LocalServer) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100 * 1024  # small on the wire: only the decompressed count catches it
    url = server.route(server.unique(), Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    with make_fetcher(max_bytes=1024 * 1024) as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "too_large"
    assert "decompressed" in result.error
    assert result.content == b""


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_decoded(server: LocalServer, encoding: str) -> None:
    payload = ("<rss>" + "ünïcode feed text " * 500 + "</rss>").encode()
    if encoding == "gzip":
        body = gzip.compress(payload)
    elif encoding == "deflate":
        body = zlib.compress(payload)
    else:
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = compressor.compress(payload) + compressor.flush()
    header = "gzip" if encoding == "gzip" else "deflate"
    url = server.route(server.unique(), Reply(body=body, headers={"Content-Encoding": header}))
    with make_fetcher() as fetcher:
        result = fetcher.fetch(url)
    assert result.ok
    assert result.content == payload
    assert result.n_bytes == len(body)


def test_corrupt_gzip_body_is_an_error_not_a_crash(server: LocalServer) -> None:
    url = server.route(
        server.unique(),
        Reply(body=b"\x1f\x8b\x08\x00garbage-garbage", headers={"Content-Encoding": "gzip"}),
    )
    with make_fetcher() as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "failed" and "corrupt" in result.error


def test_decompress_gzip_bounded_handles_members_and_caps() -> None:
    data = gzip.compress(b"abc") + gzip.compress(b"def")
    assert decompress_gzip_bounded(data, 100) == b"abcdef"
    with pytest.raises(Exception, match="exceeds"):
        decompress_gzip_bounded(gzip.compress(b"z" * 10_000), 1000)


def test_server_error_then_success_is_retried(server: LocalServer) -> None:
    path = server.unique()
    url = server.route(path, Reply(500, b"oops"), Reply(body=b"<rss/>"))
    with make_fetcher() as fetcher:
        result = fetcher.fetch(url)
    assert result.ok and result.content == b"<rss/>"
    assert result.attempts == 2
    assert len(server.hits(path)) == 2


def test_retry_after_is_honoured_and_capped(server: LocalServer) -> None:
    waits: list[float] = []
    url = server.route(
        server.unique(),
        Reply(429, headers={"Retry-After": "1"}),
        Reply(503, headers={"Retry-After": "3600"}),
        Reply(body=b"ok"),
    )
    config = FetcherConfig(retries=3, backoff=0.01, max_retry_after=5.0)
    with SafeFetcher(config, allow_private=True, sleep=waits.append) as fetcher:
        result = fetcher.fetch(url)
    assert result.ok and result.attempts == 3
    assert waits == [1.0, 5.0]


def test_retries_give_up_and_report_the_status(server: LocalServer) -> None:
    path = server.unique()
    url = server.route(path, Reply(503))
    with make_fetcher(retries=2) as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "http_error" and result.http_status == 503
    assert len(server.hits(path)) == 3
    not_found = server.unique()
    with make_fetcher(retries=2) as fetcher:
        missing = fetcher.fetch(server.base + not_found)
    assert missing.status == "http_error" and missing.http_status == 404
    assert len(server.hits(not_found)) == 1


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(
        "Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 60
    ) == pytest.approx(60.0)
    assert parse_retry_after("soon") is None
    from datetime import datetime, timezone

    arrived = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=arrived) == 30.0
    assert parse_retry_after("7") == 7.0 and parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=arrived) == 0.0
    assert parse_retry_after(None) is None


def test_robots_txt_is_respected_for_article_pages(server: LocalServer) -> None:
    hosts = {
        "polite.test": ["127.0.0.1"],
        "broken.test": ["127.0.0.1"],
        "missing.test": ["127.0.0.1"],
    }
    private = server.unique()
    server.route(private, Reply(body=b"<html>secret</html>"))
    public = server.unique()
    server.route(public, Reply(body=b"<html>public</html>"))

    def robots(headers: dict[str, str]) -> Reply:
        host = headers["host"].split(":")[0]
        if host == "polite.test":
            return Reply(body=f"User-agent: *\nDisallow: {private}\n".encode())
        if host == "broken.test":
            return Reply(503)
        return Reply(404)

    server.route("/robots.txt", robots)
    policy = AddressPolicy(allowed_networks=LOOPBACK_ONLY, resolver=lambda host, port: hosts[host])
    with SafeFetcher(FetcherConfig(retries=0), policy=policy) as fetcher:
        blocked = fetcher.fetch(f"http://polite.test:{server.port}{private}", respect_robots=True)
        allowed = fetcher.fetch(f"http://polite.test:{server.port}{public}", respect_robots=True)
        feed_style = fetcher.fetch(f"http://polite.test:{server.port}{private}")
        on_5xx = fetcher.fetch(f"http://broken.test:{server.port}{public}", respect_robots=True)
        on_404 = fetcher.fetch(f"http://missing.test:{server.port}{public}", respect_robots=True)
    assert blocked.status == "disallowed"
    assert allowed.ok and feed_style.ok
    assert on_5xx.status == "disallowed"
    assert on_404.ok
    robots_hosts = [h["host"].split(":")[0] for h in server.hits("/robots.txt")]
    assert robots_hosts.count("polite.test") == 1  # cached per host
    assert len(server.hits(private)) == 1  # only the fetch that did not ask for robots
