"""Safe HTTP fetching for ingestion.

Every request made on behalf of the analyzer goes through :class:`SafeFetcher`, which
enforces the rules that make fetching untrusted URLs tolerable:

* only ``http`` and ``https`` URLs;
* the address a host name resolves to is checked *when the socket is opened* (so a DNS
  answer cannot change between the check and the connection), on every redirect hop, and
  loopback, private, link-local, reserved, multicast and cloud-metadata addresses are
  refused unless explicitly allowed;
* connect and read timeouts plus an overall deadline per response;
* a byte cap on the body as sent *and* as decompressed, counted while streaming, so a
  gzip bomb is stopped after the cap, not after it has filled memory;
* retries with backoff on 429 and 5xx, honouring ``Retry-After`` up to a cap;
* conditional GET (ETag / Last-Modified), robots.txt for article pages, a descriptive
  User-Agent and a per-host concurrency limit.

Network problems never raise: :meth:`SafeFetcher.fetch` returns a :class:`FetchResult`
whose ``status`` says what happened, because ingestion records every attempt and moves on.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import socket
import threading
import time
import urllib.robotparser
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from analyzer.errors import FetchError

DEFAULT_USER_AGENT = "analyzer/0.1 (+https://github.com/analyzer; narrative research)"
ROBOTS_AGENT_TOKEN = "analyzer"

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/feed+json;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, application/pdf;q=0.8, */*;q=0.5"

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BODY_PRESERVING_REDIRECTS = frozenset({307, 308})
DEFAULT_POST_RESPONSE_BYTES = 1024 * 1024

# Cloud instance-metadata endpoints: never a legitimate source of news, always refused.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)

Resolver = Callable[[str, int], Sequence[str]]


class FetchRefused(FetchError):
    """The URL or the address it resolves to is not allowed by the fetch policy."""


class ResponseTooLarge(FetchError):
    """The response body passed the byte cap (sent or decompressed)."""


class DeadlineExceeded(FetchError):
    """The response took longer than the overall deadline."""


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressPolicy:
    """Decides which IP addresses the fetcher may connect to.

    ``allow_private`` lifts the ban on non-public addresses (local test servers, intranets);
    ``allowed_networks`` lifts it for specific networks only (e.g. ``["127.0.0.0/8"]``).
    Cloud-metadata addresses stay refused either way. ``resolver`` maps (host, port) to IP
    strings; it is injectable so the policy can be tested without DNS.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[str] = (),
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.allowed_networks = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )
        self.resolver = resolver or _system_resolver

    def check_address(self, address: str) -> None:
        """Raise :class:`FetchRefused` unless ``address`` may be connected to."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError as exc:
            raise FetchRefused(f"not an IP address: {address!r}") from exc
        # An IPv4 address wrapped in IPv6 must be judged as the IPv4 address it reaches.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip in METADATA_ADDRESSES:
            raise FetchRefused(f"address {ip} is a cloud metadata endpoint")
        if self.allow_private:
            return
        if any(ip in network for network in self.allowed_networks):
            return
        if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
            raise FetchRefused(
                f"address {ip} is not public (loopback, private, link-local, reserved or multicast);"
                " use --allow-private to fetch from it"
            )

    def resolve(self, host: str, port: int) -> list[str]:
        """Addresses for ``host``; refuses the host when any of them is disallowed."""
        host = host.strip("[]")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            try:
                addresses = list(self.resolver(host, port))
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        for address in addresses:
            self.check_address(address)
        return addresses


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens sockets only to addresses the policy allows, connecting to the checked IP itself.

    TLS still verifies the certificate against the original host name: httpcore passes the
    URL's host as ``server_hostname`` independently of the address connected to.
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in self._policy.resolve(host, port):
            try:
                return self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> Any:
        raise FetchRefused("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: AddressPolicy, max_connections: int) -> None:
        super().__init__(trust_env=False)
        ssl_context = self._pool._ssl_context  # the context httpx built (certifi, verify on)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )


# --------------------------------------------------------------------------- bounded decoding


class _BoundedDecoder:
    """Decompresses a Content-Encoding incrementally and stops at ``limit`` output bytes."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise FetchError(f"unsupported stacked content-encoding {content_encoding!r}")
        self.coding = codings[0] if codings else None
        if self.coding not in (None, "gzip", "x-gzip", "deflate"):
            raise FetchError(f"unsupported content-encoding {self.coding!r}")
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._inflater: Any = None
        self._pending = b""  # deflate: bytes seen before the header could be identified

    def _append(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self.limit:
            raise ResponseTooLarge(f"decompressed body exceeds {self.limit} bytes")
        self._parts.append(data)

    def _new_inflater(self, first_bytes: bytes) -> Any:
        if self.coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is zlib-wrapped by the standard but raw deflate in practice from some servers.
        cmf_flg = int.from_bytes(first_bytes[:2], "big")
        if (first_bytes[0] & 0x0F) == 8 and cmf_flg % 31 == 0:
            return zlib.decompressobj(zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> None:
        if self.coding is None:
            self._append(chunk)
            return
        data = self._pending + chunk
        if self._inflater is None:
            if len(data) < 2:
                self._pending = data
                return
            self._inflater = self._new_inflater(data)
        self._pending = b""
        try:
            while data:
                room = self.limit - self._size + 1
                out = self._inflater.decompress(data, room)
                self._append(out)
                data = self._inflater.unconsumed_tail
                if self._inflater.eof:
                    rest = self._inflater.unused_data
                    if rest.strip(b"\x00") and self.coding in ("gzip", "x-gzip"):
                        # Concatenated gzip members form one stream.
                        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        data = rest
                    else:
                        data = b""
        except zlib.error as exc:
            raise FetchError(f"corrupt {self.coding} body: {exc}") from exc

    def finish(self) -> bytes:
        if self._pending:
            self._append(self._pending)  # too short to be compressed: keep as sent
        if self._inflater is not None:
            try:
                self._append(self._inflater.flush())
            except zlib.error as exc:
                raise FetchError(f"corrupt {self.coding} body: {exc}") from exc
        return b"".join(self._parts)


def decompress_gzip_bounded(data: bytes, limit: int) -> bytes:
    """Gunzip ``data`` (all members) but never produce more than ``limit`` bytes."""
    decoder = _BoundedDecoder("gzip", limit)
    decoder.feed(data)
    return decoder.finish()


# --------------------------------------------------------------------------- results


@dataclass
class FetchResult:
    """What one fetch (with its retries and redirects) produced.

    ``status`` is one of ``ok``, ``not_modified``, ``http_error``, ``timeout``, ``too_large``,
    ``refused``, ``disallowed`` (robots.txt) or ``failed`` (network or protocol error).
    """

    url: str
    status: str
    final_url: str | None = None
    http_status: int | None = None
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    n_bytes: int = 0
    duration_ms: int = 0
    started_at: str = ""
    error: str | None = None
    attempts: int = 0
    redirects: list[str] = field(default_factory=list)
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class _Request:
    """A request other than a plain GET: its method, body and extra headers."""

    method: str
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FetcherConfig:
    """Tunable limits of :class:`SafeFetcher`; the defaults suit news feeds and articles."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0  # whole response, so a trickling server cannot hold a worker forever
    max_bytes: int = 20 * 1024 * 1024  # decompressed body
    max_compressed_bytes: int | None = None  # sent body; defaults to max_bytes
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 0.5
    max_retry_after: float = 30.0
    per_host: int = 2
    max_workers: int = 8
    robots_max_bytes: int = 512 * 1024
    # URL prefix -> prefix it is served from (an offline mirror or archive of a site). Documents
    # keep the public URL; only the bytes come from the mirror, which the address policy still checks.
    mirrors: dict[str, str] = field(default_factory=dict)


def _utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def parse_retry_after(value: str | None, *, now: float | datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    ``now`` (a POSIX timestamp or an aware datetime) is when the answer arrived; a date in the
    past means no wait. Anything else is ``None``: the caller falls back to its own backoff.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if isinstance(now, datetime):
        current = now.timestamp()
    else:
        current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


class SafeFetcher:
    """Fetches URLs under the safety rules in this module's docstring.

    Thread-safe: one fetcher is shared by the worker threads of an ingest run.

    >>> with SafeFetcher() as fetcher:
    ...     result = fetcher.fetch("https://example.com/feed.xml")
    """

    def __init__(
        self,
        config: FetcherConfig | None = None,
        *,
        allow_private: bool = False,
        policy: AddressPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or FetcherConfig()
        self.policy = policy or AddressPolicy(allow_private=allow_private)
        self._sleep = sleep
        timeout = httpx.Timeout(
            connect=self.config.connect_timeout,
            read=self.config.read_timeout,
            write=self.config.read_timeout,
            pool=self.config.deadline,
        )
        self._client = httpx.Client(
            transport=_GuardedTransport(
                self.policy, max_connections=max(4, self.config.max_workers * 2)
            ),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": self.config.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._lock = threading.Lock()
        self._host_slots: dict[str, threading.BoundedSemaphore] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | bool] = {}
        self._robots_locks: dict[str, threading.Lock] = {}

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- helpers
    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        with self._lock:
            slot = self._host_slots.get(host)
            if slot is None:
                slot = self._host_slots[host] = threading.BoundedSemaphore(
                    max(1, self.config.per_host)
                )
        with slot:
            yield

    @staticmethod
    def check_url(url: str) -> None:
        """Refuse anything but an absolute http(s) URL with a host."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise FetchRefused(f"malformed URL {url!r}: {exc}") from exc
        if parts.scheme.lower() not in ("http", "https"):
            raise FetchRefused(
                f"only http and https URLs are fetched, not {parts.scheme or 'relative'!r}"
            )
        if not parts.hostname:
            raise FetchRefused(f"URL has no host: {url!r}")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise FetchRefused(f"malformed port in {url!r}") from exc

    # ----------------------------------------------------------------- robots.txt
    def robots_allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's host lets this agent fetch it (cached per host).

        A robots.txt that cannot be fetched or answers 4xx allows everything; 5xx disallows.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            rules = self._robots.get(origin)
            if rules is None:
                rules = self._load_robots(origin)
                self._robots[origin] = rules
        if isinstance(rules, bool):
            return rules
        return rules.can_fetch(ROBOTS_AGENT_TOKEN, url)

    def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | bool:
        result = self._fetch(
            origin + "/robots.txt",
            accept="text/plain, */*;q=0.5",
            retries=0,
            max_bytes=self.config.robots_max_bytes,
        )
        if result.status == "ok":
            parser = urllib.robotparser.RobotFileParser()
            parser.parse(result.content.decode("utf-8", "replace").splitlines())
            return parser
        if result.http_status is not None and 500 <= result.http_status < 600:
            return False
        return True

    # ----------------------------------------------------------------- fetching
    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
        respect_robots: bool = False,
        max_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> FetchResult:
        """Fetch ``url``; never raises for network problems (see :class:`FetchResult`).

        ``headers`` are sent with every request (an API key, a User-Agent a service asks for);
        ``retries`` overrides the configuration's (0: the caller retries itself).
        """
        started = time.monotonic()
        started_at = _utc_now_iso()
        try:
            self.check_url(url)
        except FetchRefused as exc:
            return FetchResult(url=url, status="refused", error=str(exc), started_at=started_at)
        if respect_robots:
            try:
                allowed = self.robots_allowed(url)
            except Exception:  # robots parsing must never sink the page itself
                allowed = True
            if not allowed:
                return FetchResult(
                    url=url,
                    status="disallowed",
                    error="robots.txt disallows this URL",
                    started_at=started_at,
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
        request = _Request("GET", None, dict(headers)) if headers else None
        result = self._fetch(
            url,
            etag=etag,
            last_modified=last_modified,
            accept=accept,
            retries=self.config.retries if retries is None else retries,
            max_bytes=max_bytes,
            request=request,
        )
        result.started_at = started_at
        result.duration_ms = int((time.monotonic() - started) * 1000)
        return result

    def post_json(
        self,
        url: str,
        payload: Any,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        retries: int | None = None,
        max_bytes: int = DEFAULT_POST_RESPONSE_BYTES,
    ) -> FetchResult:
        """POST ``payload`` as JSON to ``url`` under the same rules as :meth:`fetch`.

        The address is checked on every connect and redirect, timeouts and the response size
        cap apply, and 429/5xx answers and failed connections are retried with backoff
        (``retries`` defaults to the configuration's). Only 307 and 308 redirects are
        followed, re-sending the same body; others end as ``http_error``. ``body`` sends
        these exact bytes instead of encoding ``payload`` (a signature made over them stays
        valid). Never raises for network problems.
        """
        started = time.monotonic()
        started_at = _utc_now_iso()
        try:
            self.check_url(url)
        except FetchRefused as exc:
            return FetchResult(url=url, status="refused", error=str(exc), started_at=started_at)
        if body is None:
            body = json.dumps(
                payload, ensure_ascii=False, separators=(",", ":"), default=str
            ).encode("utf-8")
        request = _Request("POST", body, {"Content-Type": "application/json", **(headers or {})})
        result = self._fetch(
            url,
            accept="application/json, */*;q=0.5",
            retries=self.config.retries if retries is None else retries,
            max_bytes=max_bytes,
            request=request,
        )
        result.started_at = started_at
        result.duration_ms = int((time.monotonic() - started) * 1000)
        return result

    def _fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str,
        retries: int,
        max_bytes: int | None,
        request: _Request | None = None,
    ) -> FetchResult:
        attempt = 0
        public_url, url = url, self._through_mirror(url)
        while True:
            attempt += 1
            result = self._fetch_following_redirects(
                url, etag, last_modified, accept, max_bytes, request
            )
            result.attempts = attempt
            if not result.retryable or attempt > retries:
                if url != public_url:
                    result.url = public_url
                    result.final_url = self._from_mirror(result.final_url)
                    result.redirects = [self._from_mirror(r) or r for r in result.redirects]
                return result
            delay = self.config.backoff * (2 ** (attempt - 1))
            retry_after = parse_retry_after(result.headers.get("retry-after"))
            if retry_after is not None:
                delay = max(delay, retry_after)
            self._sleep(min(delay, self.config.max_retry_after))

    def _through_mirror(self, url: str) -> str:
        for prefix, mirror in self.config.mirrors.items():
            if url.startswith(prefix):
                return mirror + url[len(prefix) :]
        return url

    def _from_mirror(self, url: str | None) -> str | None:
        if url is None:
            return None
        for prefix, mirror in self.config.mirrors.items():
            if url.startswith(mirror):
                return prefix + url[len(mirror) :]
        return url

    def _fetch_following_redirects(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        max_bytes: int | None,
        request: _Request | None = None,
    ) -> FetchResult:
        redirects: list[str] = []
        current = url
        while True:
            result = self._fetch_one(current, etag, last_modified, accept, max_bytes, request)
            result.url = url
            result.redirects = redirects
            if result.status != "redirect":
                return result
            if (
                request is not None
                and request.method != "GET"
                and result.http_status not in BODY_PRESERVING_REDIRECTS
            ):
                # 301/302/303 would turn the POST into a GET and drop its body: not what was asked.
                result.status = "http_error"
                result.error = (
                    f"HTTP {result.http_status} redirect not followed for a {request.method}"
                )
                return result
            if len(redirects) >= self.config.max_redirects:
                result.status = "failed"
                result.error = f"more than {self.config.max_redirects} redirects"
                return result
            location = result.headers.get("location", "")
            target = urljoin(current, location.strip())
            try:
                self.check_url(target)
            except FetchRefused as exc:
                result.status = "refused"
                result.error = f"redirect to {target!r} refused: {exc}"
                return result
            redirects.append(target)
            current = target

    def _fetch_one(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        max_bytes: int | None,
        request: _Request | None = None,
    ) -> FetchResult:
        limit = max_bytes or self.config.max_bytes
        compressed_limit = self.config.max_compressed_bytes or limit
        headers = {"Accept": accept, **(request.headers if request else {})}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.config.deadline
        result = FetchResult(url=url, status="failed", final_url=url)
        host = (urlsplit(url).hostname or "").lower()
        try:
            method, body = (request.method, request.body) if request else ("GET", None)
            with (
                self._host_slot(host),
                self._client.stream(method, url, headers=headers, content=body) as response,
            ):
                result.http_status = response.status_code
                result.headers = {k.lower(): v for k, v in response.headers.items()}
                result.content_type = response.headers.get("content-type")
                result.etag = response.headers.get("etag")
                result.last_modified = response.headers.get("last-modified")
                if response.status_code in REDIRECT_STATUSES and "location" in result.headers:
                    result.status = "redirect"
                    return result
                if response.status_code == 304:
                    result.status = "not_modified"
                    # A 304 may omit validators; keep the ones we sent so the next GET can reuse them.
                    result.etag = result.etag or etag
                    result.last_modified = result.last_modified or last_modified
                    return result
                if not 200 <= response.status_code < 300:
                    result.status = "http_error"
                    result.error = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                    result.retryable = response.status_code in RETRY_STATUSES
                    return result
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > compressed_limit:
                    raise ResponseTooLarge(
                        f"declared Content-Length {declared} exceeds {compressed_limit} bytes"
                    )
                decoder = _BoundedDecoder(response.headers.get("content-encoding"), limit)
                received = 0
                for chunk in response.iter_raw(chunk_size=64 * 1024):
                    received += len(chunk)
                    result.n_bytes = received
                    if received > compressed_limit:
                        raise ResponseTooLarge(f"body exceeds {compressed_limit} bytes")
                    decoder.feed(chunk)
                    if time.monotonic() > deadline:
                        raise DeadlineExceeded(
                            f"response took longer than {self.config.deadline:g} s"
                        )
                result.content = decoder.finish()
                result.status = "ok"
                return result
        except FetchRefused as exc:
            result.status, result.error = "refused", str(exc)
        except ResponseTooLarge as exc:
            result.status, result.error = "too_large", str(exc)
        except DeadlineExceeded as exc:
            result.status, result.error = "timeout", str(exc)
        except FetchError as exc:
            result.status, result.error = "failed", str(exc)
        except httpx.TimeoutException as exc:
            result.status = "timeout"
            result.error = f"{type(exc).__name__}: {exc or 'timed out'}"
        except (httpx.HTTPError, httpcore.ConnectError, OSError) as exc:
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
            # A dropped connection is worth another try; a response that arrived broken is not.
            result.retryable = result.http_status is None and isinstance(
                exc, (httpx.ConnectError, httpx.RemoteProtocolError, httpcore.ConnectError)
            )
        except ValueError as exc:  # httpx rejects some malformed URLs and headers this way
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        return result
