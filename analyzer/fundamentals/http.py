"""What every fundamentals connector fetches through: the project's one safe fetcher
(:class:`analyzer.ingest.fetch.SafeFetcher`) with a disk cache, a rate limit and retries.

Connectors talk to a handful of public APIs whose base URLs the user may point elsewhere (a
mirror, a test server). The address is checked on every connect and every redirect, as for
feeds: loopback and private networks are refused unless ``allow_private`` is set, and a host
that does not resolve is an error naming the source. Each response body is cached on disk keyed
by a hash of its URL, so a second run costs no request; ``refresh=True`` bypasses the cache.
Requests are paced by a token bucket shared by all clients of the same source, 429/503 answers
are retried after the server's ``Retry-After``, and every request has a timeout and a size cap.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from analyzer.errors import FetchError, InputError
from analyzer.ingest.fetch import (
    AddressPolicy,
    FetcherConfig,
    FetchResult,
    SafeFetcher,
    parse_retry_after,
)

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

    def __init__(
        self, rate: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic
    ):
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


def cache_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@dataclass
class HttpClient:
    """A cached, rate-limited GET client for one data source, over the safe fetcher.

    ``source`` is the name users see in messages ("SEC", "DefiLlama"...). Every address it
    connects to, the base URL's and every redirect's, must be public unless ``allow_private``.
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
    allow_private: bool = False
    # Finer control than allow_private: e.g. AddressPolicy(allowed_networks=["10.1.0.0/16"]).
    policy: AddressPolicy | None = None
    requests_made: int = 0
    cache_hits: int = 0
    # Query parameters that carry a secret (an API key): kept out of cache keys, cache files and messages.
    secret_params: tuple[str, ...] = ()
    _fetcher: SafeFetcher | None = field(default=None, repr=False, compare=False)

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
            url += ("&" if "?" in url else "?") + urlencode(
                sorted((k, str(v)) for k, v in params.items())
            )
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
                f"{self.source}: the response from {self.public_url(self.url_for(path, params))} is not JSON ({exc});"
                " check --base-url, or rerun with --refresh if a cached copy is damaged"
            ) from exc

    def public_url(self, url: str) -> str:
        """``url`` with the values of :attr:`secret_params` replaced by ``***``."""
        if not self.secret_params:
            return url
        parts = urlsplit(url)
        pairs = [
            (k, "***" if k in self.secret_params else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
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
    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()
            self._fetcher = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _safe_fetcher(self) -> SafeFetcher:
        if self._fetcher is None:
            config = FetcherConfig(
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                deadline=max(self.timeout, 4 * self.timeout),
                max_bytes=self.max_bytes,
                max_redirects=MAX_REDIRECTS,
                retries=0,
                per_host=1,
                max_workers=1,
            )
            self._fetcher = SafeFetcher(
                config, allow_private=self.allow_private, policy=self.policy
            )
        return self._fetcher

    def _fetch(self, url: str) -> tuple[bytes, str | None]:
        attempt = 0
        while True:
            self._bucket.acquire()
            self.requests_made += 1
            result = self._safe_fetcher().fetch(
                url,
                accept="application/json, text/csv, text/plain, */*;q=0.5",
                headers=dict(self.headers),
                retries=0,
            )
            self.requests_made += len(result.redirects)
            if result.ok:
                return result.content, result.content_type
            status = result.http_status
            if (
                result.status == "http_error"
                and status in RETRY_STATUSES
                and attempt < self.max_retries
            ):
                wait = parse_retry_after(result.headers.get("retry-after"))
                if wait is None:
                    wait = min(self.max_retry_wait, 2.0**attempt)
                if wait > self.max_retry_wait:
                    raise HttpStatusError(
                        f"{self.source}: rate limited (HTTP {status}); the server asks to wait"
                        f" {wait:.0f} s. Try again later"
                        + (" or use an API key" if self.source == "CoinGecko" else ""),
                        status,
                        self.public_url(url),
                    )
                attempt += 1
                time.sleep(wait)
                continue
            raise self._error(result, self.public_url(url), attempt)

    def _error(self, result: FetchResult, url: str, attempt: int) -> FetchError:
        """A message that names the source, what went wrong and what to do about it."""
        status = result.http_status
        final_url = self.public_url(result.final_url) if result.final_url else url
        if result.status == "http_error" and status in RETRY_STATUSES:
            return HttpStatusError(
                f"{self.source}: still unavailable (HTTP {status}) after {attempt} retries; try again later",
                status,
                final_url,
            )
        if result.status == "http_error" and status is not None:
            return HttpStatusError(
                f"{self.source}: HTTP {status} for {final_url}", status, final_url
            )
        if result.status == "timeout":
            return FetchError(
                f"{self.source}: request to {url} timed out after {self.timeout:g} s; try again later or raise --timeout"
            )
        if result.status == "too_large":
            return FetchError(
                f"{self.source}: response from {url} is over the {self.max_bytes}-byte limit ({result.error})"
            )
        if result.status == "refused":
            return FetchError(
                f"{self.source}: refused to fetch {url}: {result.error}"
                + (
                    ""
                    if self.allow_private or "allow-private" in (result.error or "")
                    else " (a local or private --base-url needs --allow-private)"
                )
            )
        host = urlsplit(url).hostname or url
        if result.error and "cannot resolve" in result.error:
            return FetchError(
                f"{self.source}: cannot resolve the host {host} ({result.error}); check --base-url and your"
                " network connection"
            )
        return FetchError(
            f"{self.source}: cannot reach {url} ({result.error or result.status}); check your network connection"
            " or --base-url"
        )


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
