"""Adding watches and running them: each new flag reaches each watch once.

A run reads the current flags of each watch's frequency (for the latest scored model version
unless told otherwise). A flag is new for a watch when the watch has no record of it, keyed by
entity, metric, frequency and start period; flags present when a watch was added are recorded
as its baseline and not sent (unless asked). For every delivery the row is claimed and
committed before the message goes out and the outcome is recorded after it, so a crash in
between re-sends at most that one message on the next run, and a failure is retried on the
next run with the same message.

One failing endpoint never holds up the others: requests have timeouts, and after a watch
fails once in a run, its remaining messages wait for the next run instead of being tried.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from analyzer.alerts.messages import alert_payload
from analyzer.errors import InputError

FLAG_LIMIT = 100_000


def _iso_day(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def current_flags(store: Any, freq: str, model_version: str | None = None) -> list[dict[str, Any]]:
    """Every flag of ``freq`` for ``model_version`` (default: the latest scored), with its
    one-line ``summary``, entity ``name`` and ``top_sentences``, as plain dicts."""
    from analyzer.views.overview import latest_flags

    version = model_version or store.latest_model_version()
    if not version:
        return []
    frame = latest_flags(store.path, freq, version, limit=FLAG_LIMIT)
    flags = []
    for row in frame.to_dict("records"):
        flags.append(
            {
                "entity": str(row["entity"]),
                "name": row.get("name"),
                "metric": row.get("metric") or "",
                "freq": freq,
                "start": _iso_day(row.get("start")),
                "end": _iso_day(row.get("end")),
                "peak_period": _iso_day(row.get("peak_period")),
                "peak_value": _float(row.get("peak_value")),
                "periods": int(row["periods"]) if row.get("periods") is not None else None,
                "model_version": version,
                "summary": str(row["summary"]),
                "top_sentences": [
                    {k: _plain(v) for k, v in dict(s).items()}
                    for s in (row.get("top_sentences") or [])
                ],
            }
        )
    return flags


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def flag_key(flag: dict[str, Any]) -> tuple[str, str, str, str]:
    return (flag["entity"], flag.get("metric") or "", flag["freq"], flag["start"])


def _check_target(channel: str, target: str, allow_private: bool) -> None:
    """Refuse a malformed target, and a webhook on a non-public address without ``allow_private``."""
    if channel == "webhook":
        from urllib.parse import urlsplit

        import httpcore

        from analyzer.ingest.fetch import AddressPolicy, FetchRefused, SafeFetcher

        SafeFetcher.check_url(target)
        parts = urlsplit(target)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            AddressPolicy(allow_private=allow_private).resolve(parts.hostname or "", port)
        except FetchRefused as exc:
            raise FetchRefused(f"webhook {target}: {exc}") from exc
        except httpcore.ConnectError:
            pass  # not resolvable today; every run checks the address again before connecting
    elif channel == "email":
        local, _, domain = target.rpartition("@")
        if not local or not domain or any(c.isspace() for c in target):
            raise InputError(f"{target!r} is not an e-mail address")
    else:
        raise InputError(f"unknown channel {channel!r}; use webhook or email")


def add_watch(
    store: Any,
    *,
    channel: str,
    target: str,
    entity: str | None = None,
    freq: str = "quarter",
    secret: str | None = None,
    secret_env: str | None = None,
    allow_private: bool = False,
    send_existing: bool = False,
    model_version: str | None = None,
) -> dict[str, Any]:
    """Store a watch and, unless ``send_existing``, record today's flags as already seen.

    A webhook whose host resolves to a private, loopback or link-local address is refused
    unless ``allow_private`` (the run checks the address again on every connection).
    """
    from analyzer.analysis.periods import check_freq

    check_freq(freq)
    _check_target(channel, target, allow_private)
    if entity is not None and not any(e["id"] == entity for e in store.entities()):
        raise InputError(f"unknown entity {entity!r}; see `analyzer entities`")
    watch_id, created = store.add_watch(
        channel=channel,
        target=target,
        entity_id=entity,
        freq=freq,
        secret=secret,
        secret_env=secret_env,
        allow_private=allow_private,
    )
    baseline = 0
    if created and not send_existing:
        flags = [
            f
            for f in current_flags(store, freq, model_version)
            if entity is None or f["entity"] == entity
        ]
        baseline = store.record_baseline(watch_id, [flag_key(f) for f in flags])
    return {
        "id": watch_id,
        "created": created,
        "baseline_flags": baseline,
        "channel": channel,
        "target": target,
        "entity": entity,
        "freq": freq,
    }


@dataclass
class WatchRunReport:
    watches: int = 0
    new_flags: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "watches": self.watches,
            "new_flags": self.new_flags,
            "sent": self.sent,
            "failed": self.failed,
            "deferred": self.deferred,
            "deliveries": self.deliveries,
        }


def _webhook_secret(watch: dict[str, Any]) -> tuple[str | None, str | None]:
    """The watch's signing secret, or the reason it is unavailable."""
    if watch.get("secret_env"):
        value = os.environ.get(watch["secret_env"])
        if not value:
            return None, f"the signing secret variable {watch['secret_env']} is not set"
        return value, None
    return watch.get("secret") or None, None


def run_watches(
    store: Any,
    *,
    base_url: str | None = None,
    model_version: str | None = None,
    fetcher_config: Any | None = None,
    smtp_settings: Any | None = None,
    watch_ids: Iterable[int] | None = None,
    say: Callable[[str], None] | None = None,
) -> WatchRunReport:
    """Send new flags and retry failed deliveries for every enabled watch; returns what happened."""
    from analyzer.alerts.mail import SmtpSettings, send_email
    from analyzer.alerts.webhook import send_webhook
    from analyzer.ingest.fetch import FetcherConfig, SafeFetcher

    report = WatchRunReport()
    wanted = {int(i) for i in watch_ids} if watch_ids is not None else None
    watches = [w for w in store.watches(enabled_only=True) if wanted is None or w["id"] in wanted]
    report.watches = len(watches)
    config = fetcher_config or FetcherConfig(
        connect_timeout=5.0,
        read_timeout=10.0,
        deadline=20.0,
        retries=2,
        backoff=0.5,
        max_bytes=1024 * 1024,
    )
    fetchers: dict[bool, Any] = {}
    flags_by_freq: dict[str, list[dict[str, Any]]] = {}
    smtp: Any = smtp_settings
    smtp_problem: str | None = None

    def fetcher_for(allow_private: bool) -> Any:
        if allow_private not in fetchers:
            fetchers[allow_private] = SafeFetcher(config, allow_private=allow_private)
        return fetchers[allow_private]

    def send(watch: dict[str, Any], payload: dict[str, Any]) -> str | None:
        """Deliver one alert on the watch's channel: None when delivered, else the error."""
        nonlocal smtp, smtp_problem
        if watch["channel"] == "webhook":
            secret, problem = _webhook_secret(watch)
            return problem or send_webhook(
                fetcher_for(bool(watch["allow_private"])),
                watch["target"],
                payload,
                secret=secret,
            )
        # Mail settings are read once, when the first mail is due.
        if smtp is None and smtp_problem is None:
            try:
                smtp = SmtpSettings.from_env()
            except InputError as exc:
                smtp_problem = str(exc)
        return smtp_problem or send_email(smtp, payload, watch["target"])

    try:
        for watch in watches:
            freq = watch["freq"]
            if freq not in flags_by_freq:
                flags_by_freq[freq] = current_flags(store, freq, model_version)
            flags = [
                f
                for f in flags_by_freq[freq]
                if watch["entity_id"] is None or f["entity"] == watch["entity_id"]
            ]
            todo, fresh = _due_alerts(store, watch, flags, base_url)
            report.new_flags += fresh
            _deliver(store, watch, todo, flags, base_url, send, report, say)
    finally:
        for fetcher in fetchers.values():
            fetcher.close()
    return report


_FlagKey = tuple[str, str, str, str]


def _due_alerts(
    store: Any, watch: dict[str, Any], flags: list[dict[str, Any]], base_url: str | None
) -> tuple[list[tuple[_FlagKey, dict[str, Any] | None]], int]:
    """The watch's alerts to send now, (key, payload) each, and how many of them are new flags.

    Deliveries left unfinished by earlier runs come first, then the flags the watch has not
    seen; a payload is None when the run that claimed it died before building it.
    """
    known = store.known_flag_keys(watch["id"])
    todo: list[tuple[_FlagKey, dict[str, Any] | None]] = [
        ((d["entity_id"], d["metric"], d["freq"], d["start_period"]), d["payload"])
        for d in store.unfinished_deliveries(watch["id"])
    ]
    fresh = [f for f in flags if flag_key(f) not in known]
    todo += [
        (
            flag_key(f),
            alert_payload(f, watch_id=watch["id"], key=flag_key(f), base_url=base_url),
        )
        for f in fresh
    ]
    return todo, len(fresh)


def _deliver(
    store: Any,
    watch: dict[str, Any],
    todo: list[tuple[_FlagKey, dict[str, Any] | None]],
    flags: list[dict[str, Any]],
    base_url: str | None,
    send: Callable[[dict[str, Any], dict[str, Any]], str | None],
    report: WatchRunReport,
    say: Callable[[str], None] | None,
) -> None:
    """Send the watch's due alerts in order, recording each delivery.

    After the first failure the rest are deferred to a later run rather than attempted.
    """
    broken: str | None = None
    for key, payload in todo:
        if payload is None:  # claimed by a run that died before building its message
            match = next((f for f in flags if flag_key(f) == key), None)
            if match is None:
                continue
            payload = alert_payload(match, watch_id=watch["id"], key=key, base_url=base_url)
        entry = {
            "watch_id": watch["id"],
            "channel": watch["channel"],
            "target": watch["target"],
            "entity": key[0],
            "metric": key[1] or None,
            "start": key[3],
        }
        if broken is not None:
            store.defer_delivery(watch["id"], key, payload, f"not attempted: {broken}")
            report.deferred += 1
            report.deliveries.append({**entry, "status": "deferred", "error": broken})
            continue
        store.claim_delivery(watch["id"], key, payload)
        error = send(watch, payload)
        store.finish_delivery(watch["id"], key, ok=error is None, error=error)
        if error is None:
            report.sent += 1
            report.deliveries.append({**entry, "status": "sent", "error": None})
        else:
            report.failed += 1
            broken = f"an earlier delivery to this watch failed in this run ({error})"
            report.deliveries.append({**entry, "status": "failed", "error": error})
            if say:
                say(f"watch {watch['id']} ({watch['target']}): {error}")
