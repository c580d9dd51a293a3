"""Alerts: tell the people watching an entity when a new divergence flag appears.

A watch (:func:`add_watch`) names an entity, or every entity, and a channel: a webhook URL
(:mod:`.webhook`: JSON posted through the safe fetcher, optionally signed with HMAC-SHA256)
or an e-mail address (:mod:`.email`: SMTP with STARTTLS, settings from the environment).
:func:`run_watches` sends each flag that is new since the previous run to each watch once,
records every delivery, and retries failed ones on the next run (:mod:`.runner`).
"""

from analyzer.alerts.messages import alert_payload, email_subject, text_body
from analyzer.alerts.runner import WatchRunReport, add_watch, current_flags, run_watches
from analyzer.alerts.webhook import SIGNATURE_HEADER, sign_body, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "WatchRunReport",
    "add_watch",
    "alert_payload",
    "current_flags",
    "email_subject",
    "run_watches",
    "sign_body",
    "text_body",
    "verify_signature",
]
