"""E-mail delivery over SMTP with STARTTLS; the settings come from environment variables.

=========================  =====================================================  ===========
variable                   meaning                                                default
=========================  =====================================================  ===========
``ANALYZER_SMTP_HOST``     SMTP server (required for e-mail watches)
``ANALYZER_SMTP_PORT``     port                                                   587
``ANALYZER_SMTP_USER``     login name (no login when unset)
``ANALYZER_SMTP_PASSWORD`` password
``ANALYZER_SMTP_FROM``     sender address                                         the login
``ANALYZER_SMTP_STARTTLS`` ``required``, or ``off`` for a local relay without TLS  required
``ANALYZER_SMTP_CA_FILE``  CA bundle to verify the server with (a private CA)     system CAs
``ANALYZER_SMTP_TIMEOUT``  seconds per network operation                          20
=========================  =====================================================  ===========

With STARTTLS required, a server that does not offer it gets nothing: the message and the
password never travel in clear. The certificate is verified against the host name.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from analyzer.alerts.messages import email_subject, text_body
from analyzer.errors import InputError

ENV_PREFIX = "ANALYZER_SMTP_"
TRANSIENT_SMTP_CODES = range(400, 500)


@dataclass
class SmtpSettings:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str | None = None
    starttls: bool = True
    ca_file: str | None = None
    timeout: float = 20.0
    retries: int = 2
    backoff: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """Settings from ``ANALYZER_SMTP_*``; raises InputError naming what is missing or wrong."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value.strip() if value and value.strip() else None

        host = get("HOST")
        if not host:
            raise InputError(
                f"e-mail alerts need {ENV_PREFIX}HOST (and usually {ENV_PREFIX}USER, "
                f"{ENV_PREFIX}PASSWORD and {ENV_PREFIX}FROM)"
            )
        try:
            port = int(get("PORT") or 587)
            timeout = float(get("TIMEOUT") or 20)
        except ValueError as exc:
            raise InputError(
                f"{ENV_PREFIX}PORT and {ENV_PREFIX}TIMEOUT must be numbers: {exc}"
            ) from exc
        mode = (get("STARTTLS") or "required").lower()
        if mode not in ("required", "on", "1", "true", "yes", "off", "0", "false", "no"):
            raise InputError(f"{ENV_PREFIX}STARTTLS must be 'required' or 'off', not {mode!r}")
        starttls = mode in ("required", "on", "1", "true", "yes")
        user, password = get("USER"), env.get(ENV_PREFIX + "PASSWORD")
        if not starttls and password:
            raise InputError(
                f"refusing to send an SMTP password without STARTTLS; unset {ENV_PREFIX}PASSWORD "
                f"or set {ENV_PREFIX}STARTTLS=required"
            )
        sender = get("FROM") or user
        if not sender:
            raise InputError(f"set {ENV_PREFIX}FROM to the sender address")
        return cls(
            host=host,
            port=port,
            user=user,
            password=password,
            sender=sender,
            starttls=starttls,
            ca_file=get("CA_FILE"),
            timeout=timeout,
        )

    def ssl_context(self) -> ssl.SSLContext:
        context = (
            ssl.create_default_context(cafile=self.ca_file)
            if self.ca_file
            else ssl.create_default_context()
        )
        return context


def build_message(payload: Mapping[str, Any], *, sender: str, recipient: str) -> EmailMessage:
    """The alert as a plain-text e-mail; its Message-ID is the delivery id, the same on a retry."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = email_subject(payload)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{payload['delivery_id']}@analyzer.alerts>"
    message["X-Analyzer-Delivery"] = str(payload["delivery_id"])
    message.set_content(text_body(payload))
    return message


def _send_once(settings: SmtpSettings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as client:
        client.ehlo()
        if settings.starttls:
            if not client.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError(
                    f"{settings.host}:{settings.port} does not offer STARTTLS; nothing was sent"
                )
            client.starttls(context=settings.ssl_context())
            client.ehlo()
        if settings.user and settings.password:
            client.login(settings.user, settings.password)
        client.send_message(message)


def _transient(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code in TRANSIENT_SMTP_CODES
    return isinstance(
        exc,
        (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError),
    )


def send_email(
    settings: SmtpSettings,
    payload: Mapping[str, Any],
    recipient: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Send the alert; returns None when the server accepted it, else the reason.

    Dropped connections, timeouts and 4xx answers are retried with backoff; a permanent
    refusal (5xx, no STARTTLS, a certificate that does not verify) is not.
    """
    message = build_message(payload, sender=str(settings.sender), recipient=recipient)
    attempt = 0
    while True:
        attempt += 1
        try:
            _send_once(settings, message)
            return None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            if attempt > settings.retries or not _transient(exc):
                detail = str(exc) or type(exc).__name__
                return f"{type(exc).__name__}: {detail}" + (
                    f" after {attempt} attempts" if attempt > 1 else ""
                )
            sleep(settings.backoff * (2 ** (attempt - 1)))
