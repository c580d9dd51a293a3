"""`analyzer watch add|list|remove|run`: alerts when a new divergence flag appears."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from analyzer.cli.common import DbOption, JsonOption, open_store, print_json, print_table

watch_app = typer.Typer(
    help="Watch entities for new divergence flags and send alerts by webhook or e-mail.",
    no_args_is_help=True,
)


class Frequency(str, enum.Enum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"


BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Where the app is served, for links to entity pages "
        "(default: $ANALYZER_APP_URL, else http://localhost:8501).",
        show_default=False,
    ),
]


@watch_app.command("add")
def add(
    db: DbOption = None,
    entity: Annotated[str | None, typer.Option("--entity", help="Entity id to watch.")] = None,
    every_entity: Annotated[bool, typer.Option("--all", help="Watch every entity.")] = False,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="URL to POST each alert to (JSON).")
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(
            "--email", help="Address to e-mail each alert to (SMTP settings from ANALYZER_SMTP_*)."
        ),
    ] = None,
    freq: Annotated[
        Frequency, typer.Option("--freq", help="Frequency of the flags watched.")
    ] = Frequency.quarter,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret", help="Sign webhook bodies with HMAC-SHA256 under this secret (stored)."
        ),
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(
            "--secret-env", help="...or under the secret in this environment variable at send time."
        ),
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private", help="Allow a webhook on a loopback or private network address."
        ),
    ] = False,
    send_existing: Annotated[
        bool,
        typer.Option(
            "--send-existing", help="Also send the flags present now (default: only new ones)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Store a watch. Flags present now are its baseline; the next runs send each new one once."""
    from analyzer.alerts import add_watch
    from analyzer.errors import InputError

    if (entity is None) == (not every_entity):
        raise InputError("give either --entity ID or --all")
    if (webhook is None) == (email is None):
        raise InputError("give either --webhook URL or --email ADDRESS")
    if email is not None and (secret or secret_env):
        raise InputError(
            "--secret and --secret-env sign webhooks; an e-mail watch has no use for them"
        )
    channel, target = ("webhook", webhook) if webhook is not None else ("email", email)
    with open_store(db) as store:
        result = add_watch(
            store,
            channel=channel,
            target=str(target),
            entity=entity,
            freq=freq.value,
            secret=secret,
            secret_env=secret_env,
            allow_private=allow_private,
            send_existing=send_existing,
        )
    if as_json:
        print_json(result)
        return
    scope = f"entity {entity}" if entity else "every entity"
    typer.echo(
        f"{'Added' if result['created'] else 'Updated'} watch {result['id']}: {freq.value} flags of {scope} "
        f"to {channel} {target}"
        + (
            f" ({result['baseline_flags']} current flag(s) taken as already known)"
            if result["baseline_flags"]
            else ""
        )
        + "."
    )


@watch_app.command("list")
def list_watches(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The watches, with how many alerts each has sent and how many wait for a retry."""
    with open_store(db) as store:
        watches = store.watches()
        deliveries = store.deliveries()
    for watch in watches:
        mine = [d for d in deliveries if d["watch_id"] == watch["id"]]
        watch["sent"] = sum(d["status"] == "sent" for d in mine)
        watch["pending"] = sum(d["status"] in ("failed", "sending") for d in mine)
        errors = [d["last_error"] for d in mine if d["status"] == "failed" and d["last_error"]]
        watch["last_error"] = errors[-1] if errors else None
        watch["secret"] = "set" if watch["secret"] else None
    if as_json:
        print_json(watches)
        return
    if not watches:
        typer.echo("No watches; add one with `analyzer watch add --entity ID --webhook URL`.")
        return
    print_table(
        [
            {**w, "entity": w["entity_id"] or "(all)", "last_error": (w["last_error"] or "")[:60]}
            for w in watches
        ],
        ["id", "entity", "freq", "channel", "target", "sent", "pending", "last_error"],
        title="Watches",
    )


@watch_app.command("remove")
def remove(
    watch_id: Annotated[int, typer.Argument(help="Watch id (see `analyzer watch list`).")],
    db: DbOption = None,
) -> None:
    """Delete a watch and its delivery record."""
    from analyzer.errors import InputError

    with open_store(db) as store:
        if not store.remove_watch(watch_id):
            raise InputError(f"no watch {watch_id}")
    typer.echo(f"Removed watch {watch_id}.")


@watch_app.command("run")
def run(
    db: DbOption = None,
    base_url: BaseUrlOption = None,
    model_version: Annotated[
        str | None,
        typer.Option(
            "--model-version", help="Flags of this model version (default: the latest scored)."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Webhook connect and read timeout, seconds.")
    ] = 10.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Webhook retries within the run, with backoff.")
    ] = 2,
    as_json: JsonOption = False,
) -> None:
    """Send each new flag to each watch once, and retry deliveries that failed before.

    Exits with status 1 when a delivery failed (it is retried on the next run); the other
    watches are served either way.
    """
    from analyzer.alerts import run_watches
    from analyzer.errors import FetchError
    from analyzer.ingest.fetch import FetcherConfig

    config = FetcherConfig(
        connect_timeout=min(timeout, 5.0),
        read_timeout=timeout,
        deadline=timeout * 2,
        retries=retries,
        backoff=0.5,
        max_bytes=1024 * 1024,
    )
    with open_store(db) as store:
        report = run_watches(
            store, base_url=base_url, model_version=model_version, fetcher_config=config
        )
    if as_json:
        print_json(report.to_dict())
    else:
        for delivery in report.deliveries:
            if delivery["status"] != "sent":
                typer.echo(
                    f"watch {delivery['watch_id']} {delivery['entity']} {delivery['start']}: "
                    f"{delivery['status']}: {delivery['error']}",
                    err=True,
                )
        typer.echo(
            f"{report.watches} watch(es), {report.new_flags} new flag(s): {report.sent} sent, "
            f"{report.failed} failed, {report.deferred} deferred to the next run."
        )
    if report.failed:
        raise FetchError(
            f"{report.failed} delivery(ies) failed; they will be retried on the next run"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(watch_app, name="watch")
