"""Watches and alerts against real local servers: a webhook receiver on 127.0.0.1 and an SMTP
server with STARTTLS (aiosmtpd, a self-signed certificate made here), over the seeded database
whose analysis raises two quarterly flags (Nvidia revenue, Solana TVL)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_seed import seeded
from hype_fixtures import tiny_model_dir  # noqa: F401 - a fixture
from webhook_server import Plan, WebhookServer, closed_port_url

from analyzer.alerts import add_watch, current_flags, run_watches, verify_signature
from analyzer.alerts.mail import SmtpSettings
from analyzer.cli import main
from analyzer.errors import InputError
from analyzer.ingest.fetch import FetcherConfig, FetchRefused
from analyzer.storage import Store
from analyzer.views import overview as overview_reads

FAST = FetcherConfig(connect_timeout=1.0, read_timeout=1.0, deadline=3.0, retries=2, backoff=0.01)


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:  # noqa: F811
    return seeded(tmp_path_factory, tiny_model_dir)


@pytest.fixture
def flagged(seed: dict[str, Any], tmp_path: Path) -> Iterator[Store]:
    """A private copy of the seeded database (its two flags are already computed)."""
    copy = tmp_path / "alerts.db"
    with sqlite3.connect(seed["path"]) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with Store(copy) as store:
        yield store


@pytest.fixture(scope="module")
def server() -> Iterator[WebhookServer]:
    running = WebhookServer()
    yield running
    running.close()


def _watch(store: Store, url: str, **options: Any) -> int:
    options.setdefault("allow_private", True)
    options.setdefault("send_existing", True)
    return add_watch(store, channel="webhook", target=url, **options)["id"]


def test_the_seed_plants_two_reliable_divergences_with_a_clear_margin(flagged: Store) -> None:
    """The two flags the tests below rely on are planted, not noise: every flagged period has
    enough stories to be reliable and a divergence band whose lower bound clears the threshold
    by half a point at least. Solana's one-quarter burst (2023 Q3) is reliable and its lower
    bound well above zero, between quarters whose bounds are below zero: a single period, which
    only a rule asking for one period flags."""
    from analyzer.analysis.heat import MIN_RELIABLE_STORIES

    version = flagged.latest_model_version()
    flags = flagged.stored_flags("quarter", version)
    heat = flagged.stored_heat("quarter", version).set_index(["entity", "period"])
    divergence = flagged.stored_divergence("quarter", version)
    assert sorted(zip(flags["entity"], flags["metric"])) == [
        ("nvidia", "revenue"),
        ("solana", "tvl"),
    ]
    for flag in flags.to_dict("records"):
        rows = divergence[
            (divergence["entity"] == flag["entity"])
            & (divergence["metric"] == flag["metric"])
            & (divergence["period"] >= flag["start"])
            & (divergence["period"] <= flag["end"])
        ]
        assert len(rows) == flag["periods"] >= flag["min_periods"]
        assert rows["reliable"].astype(bool).all()
        stories = [heat.loc[(flag["entity"], period), "stories"] for period in rows["period"]]
        assert min(stories) >= MIN_RELIABLE_STORIES
        assert (rows["divergence_low"] - flag["threshold"]).min() >= 0.5
    solana = divergence[(divergence["entity"] == "solana") & (divergence["metric"] == "tvl")]
    solana = solana.sort_values("period").reset_index(drop=True)
    low = solana["divergence_low"]
    burst = solana.index[(~solana["flagged"].astype(bool)) & (low >= 0.5)]
    assert len(burst) == 1 and bool(solana.loc[burst[0], "reliable"])
    assert low[burst[0] - 1] < 0 and low[burst[0] + 1] < 0


# --------------------------------------------------------------------------- webhook


def test_webhook_alerts_are_signed_complete_and_sent_once(
    flagged: Store, server: WebhookServer
) -> None:
    url = server.plan()
    _watch(flagged, url, secret="s3cret")
    report = run_watches(flagged, base_url="https://app.example/", fetcher_config=FAST)
    assert (report.new_flags, report.sent, report.failed) == (2, 2, 0)
    received = server.at(url)
    assert len(received) == 2
    app_summaries = set(
        overview_reads.latest_flags(flagged.path, "quarter", flagged.latest_model_version())[
            "summary"
        ]
    )
    for request in received:
        assert verify_signature(request.body, "s3cret", request.headers["x-analyzer-signature"])
        assert not verify_signature(request.body, "other", request.headers["x-analyzer-signature"])
        payload = request.json()
        assert request.headers["x-analyzer-delivery"] == payload["delivery_id"]
        assert payload["summary"] in app_summaries  # the same one-line summary as the app's
        assert payload["link"] == f"https://app.example/entity?entity={payload['entity']}"
        assert payload["top_sentences"] and all(s["text"] for s in payload["top_sentences"])
        assert payload["freq"] == "quarter" and payload["start"] <= payload["end"]
    nvidia = next(r.json() for r in received if r.json()["entity"] == "nvidia")
    assert nvidia["summary"].startswith("Nvidia · revenue · 2024 Q1–2024 Q4: narrative heat up")
    assert (nvidia["metric"], nvidia["start"]) == ("revenue", "2024-01-01")

    again = run_watches(flagged, base_url="https://app.example/", fetcher_config=FAST)
    assert (again.new_flags, again.sent) == (0, 0)
    assert len(server.at(url)) == 2


def test_only_flags_new_since_the_previous_run_are_sent(
    flagged: Store, server: WebhookServer
) -> None:
    from analyzer.pipeline import compute_divergence

    url = server.plan()
    result = add_watch(flagged, channel="webhook", target=url, allow_private=True)
    assert result["baseline_flags"] == 2  # present when the watch was added: known, not sent
    assert run_watches(flagged, fetcher_config=FAST).sent == 0
    before = {(f["entity"], f["metric"], f["start"]) for f in current_flags(flagged, "quarter")}
    compute_divergence(flagged, freq="quarter", threshold=0.3, min_periods=1)
    after = {(f["entity"], f["metric"], f["start"]) for f in current_flags(flagged, "quarter")}
    new = after - before
    assert new, "a lower threshold should raise more flags"
    report = run_watches(flagged, fetcher_config=FAST)
    assert report.sent == report.new_flags == len(new)
    assert {
        (r.json()["entity"], r.json()["metric"] or "", r.json()["start"]) for r in server.at(url)
    } == new


def test_failed_deliveries_are_retried_on_the_next_run_with_the_same_message(
    flagged: Store, server: WebhookServer
) -> None:
    path = "/flaky-" + flagged.path.parent.name
    url = server.plan(Plan(statuses=[500]), path=path)
    watch_id = _watch(flagged, url)
    first = run_watches(flagged, fetcher_config=FAST)
    # The first message was tried three times (two retries with backoff); the second waits.
    assert (first.sent, first.failed, first.deferred) == (0, 1, 1)
    failed_bodies = [r.body for r in server.at(url)]
    assert len(failed_bodies) == 3 and len(set(failed_bodies)) == 1
    rows = {d["entity_id"]: d for d in flagged.deliveries(watch_id)}
    assert sorted(d["status"] for d in rows.values()) == ["failed", "failed"]
    assert any("HTTP 500" in (d["last_error"] or "") for d in rows.values())

    server.plan(Plan(statuses=[200]), path=path)
    second = run_watches(flagged, fetcher_config=FAST)
    assert (second.sent, second.failed, second.new_flags) == (2, 0, 0)
    bodies = [r.body for r in server.at(url)]
    assert bodies[3] == failed_bodies[0]  # the retry is the same message, delivery id included
    assert len({json.loads(b)["delivery_id"] for b in bodies[3:]}) == 2
    assert run_watches(flagged, fetcher_config=FAST).sent == 0
    assert len(server.at(url)) == 5
    assert all(d["status"] == "sent" for d in flagged.deliveries(watch_id))


def test_a_crash_between_sending_and_recording_repeats_at_most_one_message(
    flagged: Store, server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.plan()
    watch_id = _watch(flagged, url)
    real_finish = flagged.finish_delivery

    def power_cut(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("the process died after sending")

    monkeypatch.setattr(flagged, "finish_delivery", power_cut)
    with pytest.raises(KeyboardInterrupt):
        run_watches(flagged, fetcher_config=FAST)
    assert len(server.at(url)) == 1
    assert [d["status"] for d in flagged.deliveries(watch_id)] == ["sending"]

    monkeypatch.setattr(flagged, "finish_delivery", real_finish)
    report = run_watches(flagged, fetcher_config=FAST)
    assert report.sent == 2
    ids = [r.json()["delivery_id"] for r in server.at(url)]
    assert len(ids) == 3 and len(set(ids)) == 2  # one message twice, the other once
    assert run_watches(flagged, fetcher_config=FAST).sent == 0


def test_a_private_webhook_is_refused_without_allow_private(
    flagged: Store, server: WebhookServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.plan()
    for target in (url, url.replace("127.0.0.1", "localhost")):
        with pytest.raises(FetchRefused, match="--allow-private"):
            add_watch(flagged, channel="webhook", target=target)
    with pytest.raises(SystemExit):
        main(["watch", "add", "--db", str(flagged.path), "--all", "--webhook", url])
    assert "not public" in capsys.readouterr().err
    assert flagged.watches() == []
    # Stored without the permission (as if its name had resolved to a public address then), the
    # run still checks the address it connects to.
    watch_id, _ = flagged.add_watch(channel="webhook", target=url)
    report = run_watches(flagged, fetcher_config=FAST)
    assert report.sent == 0 and report.failed == 1
    assert "refused" in flagged.deliveries(watch_id)[0]["last_error"]
    assert server.at(url) == []


def test_an_unreachable_webhook_never_blocks_the_other_watches(
    flagged: Store, server: WebhookServer
) -> None:
    hanging = server.plan(Plan(delay=2.0))
    good = server.plan()
    refused_id = _watch(flagged, closed_port_url())
    hanging_id = _watch(flagged, hanging)
    _watch(flagged, good)
    config = FetcherConfig(
        connect_timeout=0.5, read_timeout=0.4, deadline=1.0, retries=1, backoff=0.01
    )
    report = run_watches(flagged, fetcher_config=config)
    assert len(server.at(good)) == 2
    assert (report.sent, report.failed, report.deferred) == (2, 2, 2)
    for watch_id, reason in ((refused_id, "failed"), (hanging_id, "timeout")):
        errors = [d["last_error"] for d in flagged.deliveries(watch_id)]
        assert any(reason in (e or "") for e in errors)
        assert any("not attempted" in (e or "") for e in errors)


def test_watch_commands(
    flagged: Store, server: WebhookServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.plan()
    db = ["--db", str(flagged.path)]
    main(
        [
            "watch",
            "add",
            *db,
            "--entity",
            "nvidia",
            "--webhook",
            url,
            "--allow-private",
            "--send-existing",
            "--secret-env",
            "TEST_WEBHOOK_SECRET",
        ]
    )
    assert "Added watch 1: quarter flags of entity nvidia" in capsys.readouterr().out
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_WEBHOOK_SECRET", "from-env")
        main(["watch", "run", *db, "--json", "--base-url", "https://news.example"])
    report = json.loads(capsys.readouterr().out)
    assert report["sent"] == 1 and report["deliveries"][0]["entity"] == "nvidia"
    (request,) = server.at(url)
    assert verify_signature(request.body, "from-env", request.headers["x-analyzer-signature"])
    main(["watch", "list", *db, "--json"])
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["sent"], listed["pending"], listed["entity_id"]) == (1, 0, "nvidia")
    # Without its secret the watch fails (and says why) rather than sending unsigned.
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "watch",
                "add",
                *db,
                "--all",
                "--webhook",
                url,
                "--allow-private",
                "--send-existing",
                "--secret-env",
                "TEST_WEBHOOK_SECRET",
            ]
        )
        main(["watch", "run", *db])
    assert exit_info.value.code == 1
    assert "TEST_WEBHOOK_SECRET is not set" in capsys.readouterr().err
    for bad, message in (
        (["--entity", "nvidia", "--all", "--webhook", url], "either --entity ID or --all"),
        (["--all"], "either --webhook URL or --email ADDRESS"),
        (
            ["--entity", "atlantis", "--webhook", url, "--allow-private"],
            "unknown entity 'atlantis'",
        ),
        (["--all", "--email", "not-an-address"], "is not an e-mail address"),
        (["--all", "--webhook", "file:///etc/passwd"], "only http and https"),
    ):
        with pytest.raises(SystemExit):
            main(["watch", "add", *db, *bad])
        assert message in capsys.readouterr().err
    main(["watch", "remove", *db, "1"])
    assert [w["id"] for w in flagged.watches()] == [2]


# --------------------------------------------------------------------------- e-mail


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _self_signed(directory: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "analyzer test SMTP")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(
            {
                "rcpt": list(envelope.rcpt_tos),
                "from": envelope.mail_from,
                "data": envelope.content.decode("utf-8"),
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
            }
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Inbox]:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.smtp import AuthResult

    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        return AuthResult(success=data.login == b"alerts" and data.password == b"pa55")

    inbox = _Inbox()
    port = _free_port()
    controller = controller_module.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticate,
    )
    controller.start()
    for name, value in {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "USER": "alerts",
        "PASSWORD": "pa55",
        "FROM": "alerts@analyzer.example",
        "CA_FILE": str(cert_file),
        "TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(f"ANALYZER_SMTP_{name}", value)
    try:
        yield inbox
    finally:
        controller.stop()


def test_email_alerts_go_over_starttls_with_login(flagged: Store, smtp_server: _Inbox) -> None:
    add_watch(
        flagged, channel="email", target="desk@news.example", entity="nvidia", send_existing=True
    )
    report = run_watches(flagged, base_url="https://app.example")
    assert (report.sent, report.failed) == (1, 0), report.deliveries
    (message,) = smtp_server.messages
    assert message["tls"] and message["authenticated"]
    assert message["rcpt"] == ["desk@news.example"] and message["from"] == "alerts@analyzer.example"
    parsed = email.message_from_string(message["data"], policy=email.policy.default)
    assert str(parsed["Subject"]) == "New flag: Nvidia · revenue · 2024 Q1–2024 Q4"
    body = parsed.get_content()
    assert body.startswith("Nvidia · revenue · 2024 Q1–2024 Q4: narrative heat up")
    assert "Top sentences:" in body and "https://app.example/entity?entity=nvidia" in body
    assert parsed["Message-ID"].endswith("@analyzer.alerts>")
    assert run_watches(flagged).sent == 0 and len(smtp_server.messages) == 1


def test_a_server_without_starttls_gets_nothing(
    flagged: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    inbox = _Inbox()
    port = _free_port()
    controller = controller_module.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("ANALYZER_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ANALYZER_SMTP_PORT", str(port))
        monkeypatch.setenv("ANALYZER_SMTP_FROM", "alerts@analyzer.example")
        add_watch(flagged, channel="email", target="desk@news.example", send_existing=True)
        report = run_watches(flagged)
    finally:
        controller.stop()
    assert report.sent == 0 and report.failed == 1 and report.deferred == 1
    assert "does not offer STARTTLS" in report.deliveries[0]["error"]
    assert inbox.messages == []


def test_smtp_settings_come_from_the_environment() -> None:
    with pytest.raises(InputError, match="ANALYZER_SMTP_HOST"):
        SmtpSettings.from_env({})
    with pytest.raises(InputError, match="without STARTTLS"):
        SmtpSettings.from_env(
            {
                "ANALYZER_SMTP_HOST": "h",
                "ANALYZER_SMTP_PASSWORD": "p",
                "ANALYZER_SMTP_USER": "u",
                "ANALYZER_SMTP_STARTTLS": "off",
            }
        )
    with pytest.raises(InputError, match="ANALYZER_SMTP_FROM"):
        SmtpSettings.from_env({"ANALYZER_SMTP_HOST": "h"})
    with pytest.raises(InputError, match="must be numbers"):
        SmtpSettings.from_env(
            {"ANALYZER_SMTP_HOST": "h", "ANALYZER_SMTP_FROM": "a@b", "ANALYZER_SMTP_PORT": "x"}
        )
    settings = SmtpSettings.from_env(
        {"ANALYZER_SMTP_HOST": "mail.example", "ANALYZER_SMTP_USER": "me@example"}
    )
    assert (settings.port, settings.starttls, settings.sender) == (587, True, "me@example")
