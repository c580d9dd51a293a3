"""SafeFetcher.post_json against a real server on 127.0.0.1: the GET rules hold for a POST."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from webhook_server import Plan, WebhookServer, closed_port_url

from analyzer.ingest.fetch import AddressPolicy, FetcherConfig, SafeFetcher


@pytest.fixture(scope="module")
def server() -> Iterator[WebhookServer]:
    running = WebhookServer()
    yield running
    running.close()


def fetcher(**config: object) -> SafeFetcher:
    settings = {
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "deadline": 5.0,
        "retries": 2,
        "backoff": 0.01,
    }
    settings.update(config)
    return SafeFetcher(FetcherConfig(**settings), allow_private=True)  # type: ignore[arg-type]


def test_posts_json_with_headers(server: WebhookServer) -> None:
    url = server.plan(Plan(body=b'{"received": 1}'))
    with fetcher() as client:
        result = client.post_json(
            url, {"entity": "nvidia", "values": [1, 2]}, headers={"X-Test": "yes"}
        )
    assert result.ok and result.http_status == 200 and json.loads(result.content) == {"received": 1}
    (request,) = server.at(url)
    assert request.method == "POST" and request.json() == {"entity": "nvidia", "values": [1, 2]}
    assert (
        request.headers["content-type"] == "application/json" and request.headers["x-test"] == "yes"
    )
    assert request.headers["user-agent"].startswith("analyzer/")


def test_exact_body_bytes_are_sent(server: WebhookServer) -> None:
    url = server.plan()
    body = '{"b":2,"a":"é"}'.encode()
    with fetcher() as client:
        assert client.post_json(url, None, body=body).ok
    assert server.at(url)[0].body == body


def test_loopback_refused_without_allow_private(server: WebhookServer) -> None:
    url = server.plan()
    with SafeFetcher(FetcherConfig(retries=0)) as client:
        result = client.post_json(url, {"x": 1})
    assert result.status == "refused" and "not public" in (result.error or "")
    assert server.at(url) == []


def test_server_errors_are_retried_with_the_same_body(server: WebhookServer) -> None:
    url = server.plan(Plan(statuses=[503, 500, 200]))
    with fetcher() as client:
        result = client.post_json(url, {"n": 1})
    assert result.ok and result.attempts == 3
    assert [r.body for r in server.at(url)] == [b'{"n":1}'] * 3


def test_retries_give_up_and_say_so(server: WebhookServer) -> None:
    url = server.plan(Plan(statuses=[502]))
    with fetcher(retries=1) as client:
        result = client.post_json(url, {"n": 1})
    assert result.status == "http_error" and result.http_status == 502 and result.attempts == 2
    assert len(server.at(url)) == 2


def test_client_errors_are_not_retried(server: WebhookServer) -> None:
    url = server.plan(Plan(statuses=[400]))
    with fetcher() as client:
        result = client.post_json(url, {"n": 1})
    assert result.status == "http_error" and result.attempts == 1 and len(server.at(url)) == 1


def test_307_is_followed_with_the_body_and_303_is_not(server: WebhookServer) -> None:
    target = server.plan()
    moved = server.plan(Plan(statuses=[307], headers={"Location": target}))
    with fetcher() as client:
        result = client.post_json(moved, {"k": "v"})
    assert result.ok and result.redirects == [target]
    assert server.at(target)[0].method == "POST" and server.at(target)[0].json() == {"k": "v"}
    other = server.plan(Plan(statuses=[303], headers={"Location": target}))
    with fetcher() as client:
        result = client.post_json(other, {"k": "v"})
    assert result.status == "http_error" and "303 redirect not followed" in (result.error or "")
    assert len(server.at(target)) == 1


@pytest.mark.parametrize(
    "location", ["http://169.254.169.254/latest", "http://10.1.2.3/hook", "ftp://x.test/"]
)
def test_redirect_to_a_refused_address_is_refused(server: WebhookServer, location: str) -> None:
    url = server.plan(Plan(statuses=[308], headers={"Location": location}))
    # Only the loopback network is let through, as a webhook on this machine would be.
    policy = AddressPolicy(allowed_networks=["127.0.0.0/8"])
    with SafeFetcher(FetcherConfig(retries=0, connect_timeout=1.0), policy=policy) as client:
        result = client.post_json(url, {"k": "v"})
    assert result.status == "refused"


def test_response_size_is_capped(server: WebhookServer) -> None:
    url = server.plan(Plan(body=b"x" * 5000))
    with fetcher() as client:
        result = client.post_json(url, {"k": "v"}, max_bytes=1000)
    assert result.status == "too_large"


def test_slow_receiver_times_out(server: WebhookServer) -> None:
    url = server.plan(Plan(delay=1.5))
    with fetcher(read_timeout=0.3, retries=0) as client:
        result = client.post_json(url, {"k": "v"})
    assert result.status == "timeout"


def test_unreachable_receiver_is_a_failed_result_not_an_exception() -> None:
    with fetcher(retries=1) as client:
        result = client.post_json(closed_port_url(), {"k": "v"})
    assert result.status == "failed" and result.attempts == 2 and "Connect" in (result.error or "")
