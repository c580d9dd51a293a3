"""The one HTTP path every fundamentals connector uses: disk cache, rate limit, retries.

Connectors talk to a handful of public APIs whose base URLs the user may point elsewhere (a
mirror, a test server). Each response body is cached on disk keyed by a hash of its URL, so a
second run costs no request; ``refresh=True`` bypasses the cache. Requests are paced by a
token bucket shared by all clients of the same source, 429/503 answers are retried after the
server's ``Retry-After``, and every request has a timeout and a size cap.
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx

from analyzer.errors import FetchError, InputError

DEFAULT_CACHE_ROOT = Path("data") / "cache"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # SEC companyfacts for a large filer runs to tens of MB
DEFAULT_MAX_RETRIES = 3
DEFAULT_MAX_RETRY_WAIT_S = 60.0
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({429, 503})


class HttpStatusError(FetchError):
    """The server answered with an error status; connectors turn it into a helpful message."""

    def __init__(self, message: str, status: int, url: str):
        super().__init__(message)
        self.status = status
        self.url = url


class TokenBucket:
    """At most ``rate`` requests per second on average, with bursts of up to ``capacity``."""

    def __init__(self, rate: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise InputError(f"rate limit must be positive, got {rate}")
        self.rate = float(rate)
        self.capacity = max(1.0, float(capacity))
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        """Take one token, returning how long the caller must sleep before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.rate

    def acquire(self) -> None:
        delay = self.wait_time()
        if delay > 0:
            time.sleep(delay)


_BUCKETS: dict[tuple[str, float], TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def shared_bucket(source: str, rate: float) -> TokenBucket:
    """One bucket per (source, rate) in this process, so parallel clients share the budget."""
    with _BUCKETS_LOCK:
        key = (source, float(rate))
        if key not in _BUCKETS:
            _BUCKETS[key] = TokenBucket(rate)
        return _BUCKETS[key]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def cache_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def _is_public_host(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return True  # unresolvable: the request itself will fail with a clear message
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return False
    return True


@dataclass
class HttpClient:
    """A cached, rate-limited GET client for one data source.

    ``source`` is the name users see in messages ("SEC", "DefiLlama"...). ``base_url`` is
    trusted configuration; redirects may only leave its host for public addresses.
    """

    source: str
    base_url: str
    cache_dir: Path | None = None
    refresh: bool = False
    timeout: float = DEFAULT_TIMEOUT_S
    rate_per_second: float = 5.0
    headers: Mapping[str, str] = field(default_factory=dict)
    max_bytes: int = DEFAULT_MAX_BYTES
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT_S
    requests_made: int = 0
    cache_hits: int = 0
    # Query parameters that carry a secret (an API key): kept out of cache keys and cache files.
    secret_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(
                f"{self.source}: base URL {self.base_url!r} must be an absolute http(s) URL"
            )
        if self.timeout <= 0:
            raise InputError(f"{self.source}: timeout must be positive, got {self.timeout}")
        self._bucket = shared_bucket(self.source, self.rate_per_second)

    # ----------------------------------------------------------------- public API
    def url_for(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        if params:
            url += ("&" if "?" in url else "?") + urlencode(sorted((k, str(v)) for k, v in params.items()))
        return url

    def get_text(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The body of ``GET base_url/path?params`` as text, from the cache when possible."""
        url = self.url_for(path, params)
        cached = None if self.refresh else self._read_cache(url)
        if cached is not None:
            self.cache_hits += 1
            return cached
        body, content_type = self._fetch(url)
        text = body.decode(_charset(content_type), errors="replace")
        self._write_cache(url, text, content_type)
        return text

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        text = self.get_text(path, params)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise FetchError(
                f"{self.source}: the response from {self.url_for(path, params)} is not JSON ({exc});"
                " check --base-url, or rerun with --refresh if a cached copy is damaged"
            ) from exc

    def public_url(self, url: str) -> str:
        """``url`` with the values of :attr:`secret_params` replaced by ``***``."""
        if not self.secret_params:
            return url
        parts = urlsplit(url)
        pairs = [(k, "***" if k in self.secret_params else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        return parts._replace(query=urlencode(pairs)).geturl()

    # ----------------------------------------------------------------- cache
    def _cache_paths(self, url: str) -> tuple[Path, Path] | None:
        if self.cache_dir is None:
            return None
        key = cache_key(self.public_url(url))
        return self.cache_dir / f"{key}.body", self.cache_dir / f"{key}.json"

    def _read_cache(self, url: str) -> str | None:
        paths = self._cache_paths(url)
        if paths is None or not paths[0].is_file():
            return None
        try:
            return paths[0].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None  # a damaged cache entry is simply fetched again

    def _write_cache(self, url: str, text: str, content_type: str | None) -> None:
        paths = self._cache_paths(url)
        if paths is None:
            return
        body_path, meta_path = paths
        try:
            body_path.parent.mkdir(parents=True, exist_ok=True)
            for path, content in (
                (body_path, text),
                (
                    meta_path,
                    json.dumps(
                        {
                            "url": self.public_url(url),
                            "source": self.source,
                            "content_type": content_type,
                            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        }
                    ),
                ),
            ):
                # Write then rename, so an interrupted run never leaves half a body behind.
                tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
                tmp.write_text(content, encoding="utf-8")
                os.replace(tmp, path)
        except OSError as exc:
            raise FetchError(
                f"{self.source}: cannot write the cache in {body_path.parent} ({exc});"
                " pass a writable --cache-dir"
            ) from exc

    # ----------------------------------------------------------------- network
    def _fetch(self, url: str) -> tuple[bytes, str | None]:
        attempt = 0
        while True:
            self._bucket.acquire()
            try:
                status, headers, body, final_url = self._request_following_redirects(url)
            except httpx.TimeoutException as exc:
                raise FetchError(
                    f"{self.source}: request to {url} timed out after {self.timeout:g} s;"
                    " try again later or raise --timeout"
                ) from exc
            except httpx.HTTPError as exc:
                raise FetchError(
                    f"{self.source}: cannot reach {url} ({type(exc).__name__}: {exc});"
                    " check your network connection or --base-url"
                ) from exc
            if status in RETRY_STATUSES and attempt < self.max_retries:
                wait = parse_retry_after(headers.get("retry-after"))
                if wait is None:
                    wait = min(self.max_retry_wait, 2.0**attempt)
                if wait > self.max_retry_wait:
                    raise HttpStatusError(
                        f"{self.source}: rate limited (HTTP {status}); the server asks to wait"
                        f" {wait:.0f} s. Try again later"
                        + (" or use an API key" if self.source == "CoinGecko" else ""),
                        status,
                        url,
                    )
                attempt += 1
                time.sleep(wait)
                continue
            if status in RETRY_STATUSES:
                raise HttpStatusError(
                    f"{self.source}: still unavailable (HTTP {status}) after {attempt} retries;"
                    " try again later",
                    status,
                    final_url,
                )
            if status >= 400:
                raise HttpStatusError(
                    f"{self.source}: HTTP {status} for {final_url}", status, final_url
                )
            return body, headers.get("content-type")

    def _request_following_redirects(self, url: str) -> tuple[int, httpx.Headers, bytes, str]:
        base_host = urlsplit(self.base_url).hostname
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                self.requests_made += 1
                with client.stream("GET", url, headers=dict(self.headers)) as response:
                    if response.is_redirect and "location" in response.headers:
                        next_url = urljoin(url, response.headers["location"])
                        parts = urlsplit(next_url)
                        if parts.scheme not in ("http", "https"):
                            raise FetchError(f"{self.source}: refusing redirect to {next_url}")
                        if parts.hostname != base_host and not _is_public_host(parts.hostname or ""):
                            raise FetchError(
                                f"{self.source}: refusing redirect from {url} to a private address"
                                f" ({next_url})"
                            )
                        url = next_url
                        continue
                    body = self._read_capped(response, url)
                    return response.status_code, response.headers, body, url
        raise FetchError(f"{self.source}: too many redirects starting at {url}")

    def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(
                f"{self.source}: response from {url} is {int(declared)} bytes, over the"
                f" {self.max_bytes}-byte limit"
            )
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > self.max_bytes:
                raise FetchError(
                    f"{self.source}: response from {url} exceeds the {self.max_bytes}-byte limit"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _charset(content_type: str | None) -> str:
    if content_type:
        for part in content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                try:
                    "".encode(value.strip('"'))
                    return value.strip('"')
                except LookupError:
                    break
    return "utf-8"


def source_cache_dir(source_key: str, cache_root: str | os.PathLike[str] | None = None) -> Path:
    """Where one source caches its responses: ``<cache_root>/<source>/``, by default under data/cache."""
    return (Path(cache_root) if cache_root else DEFAULT_CACHE_ROOT) / source_key
