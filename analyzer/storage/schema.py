"""The database schema as an ordered list of migrations.

Each migration runs once, in order, inside a transaction; ``PRAGMA user_version`` records how
many have run. A new table or column is a new migration appended to :data:`MIGRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

DOCUMENT_KINDS = ("news", "whitepaper", "filing", "other")


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            url TEXT,
            kind TEXT NOT NULL DEFAULT 'news',
            language TEXT,
            entity_hints TEXT NOT NULL DEFAULT '[]',
            enabled INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '{}',
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            stats TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute(
        """
        CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            source_id INTEGER REFERENCES sources(id),
            url TEXT NOT NULL,
            started_at TEXT NOT NULL,
            duration_ms INTEGER,
            status TEXT NOT NULL,
            http_status INTEGER,
            etag TEXT,
            last_modified TEXT,
            content_type TEXT,
            bytes INTEGER,
            items INTEGER,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX idx_fetches_url ON fetches(url, id)")
    db.execute(
        """
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            external_id TEXT,
            url TEXT,
            canonical_url TEXT,
            title TEXT,
            author TEXT,
            published_at TEXT,
            fetched_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            language TEXT,
            kind TEXT NOT NULL DEFAULT 'news',
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            source_id INTEGER REFERENCES sources(id),
            cluster_id INTEGER
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_documents_canonical_url ON documents(canonical_url) "
        "WHERE canonical_url IS NOT NULL"
    )
    db.execute("CREATE INDEX idx_documents_content_hash ON documents(content_hash)")
    db.execute("CREATE INDEX idx_documents_published ON documents(published_at)")
    db.execute("CREATE INDEX idx_documents_source ON documents(source_id)")
    db.execute(
        """
        CREATE TABLE entities (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'theme',
            aliases TEXT NOT NULL DEFAULT '[]',
            exclusions TEXT NOT NULL DEFAULT '[]',
            tickers TEXT NOT NULL DEFAULT '[]',
            description TEXT,
            sec_cik TEXT,
            defillama_slug TEXT,
            coingecko_id TEXT
        )"""
    )
    db.execute(
        """
        CREATE TABLE document_entities (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            entity_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
            method TEXT NOT NULL,
            matched TEXT,
            score REAL,
            PRIMARY KEY (document_id, entity_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        "CREATE INDEX idx_document_entities_entity ON document_entities(entity_id, document_id)"
    )
    db.execute(
        """
        CREATE TABLE sentence_entities (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            sentence_index INTEGER NOT NULL,
            entity_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
            matched TEXT,
            PRIMARY KEY (document_id, sentence_index, entity_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX idx_sentence_entities_entity ON sentence_entities(entity_id)")
    db.execute(
        """
        CREATE TABLE sentences (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            sentence_index INTEGER NOT NULL,
            text TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            PRIMARY KEY (document_id, sentence_index)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE scores (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            model_version TEXT NOT NULL,
            hype REAL,
            growth REAL,
            evidence REAL,
            hype_top REAL,
            growth_top REAL,
            evidence_top REAL,
            hype_share REAL,
            growth_share REAL,
            evidence_share REAL,
            n_sentences INTEGER NOT NULL DEFAULT 0,
            language TEXT,
            unscored INTEGER NOT NULL DEFAULT 0,
            scored_at TEXT NOT NULL,
            PRIMARY KEY (document_id, model_version)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX idx_scores_version ON scores(model_version, document_id)")
    db.execute(
        """
        CREATE TABLE sentence_scores (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            sentence_index INTEGER NOT NULL,
            model_id TEXT NOT NULL,
            model_version TEXT NOT NULL,
            hype REAL,
            growth REAL,
            evidence REAL,
            PRIMARY KEY (document_id, model_version, sentence_index)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE score_cache (
            text_hash TEXT NOT NULL,
            model_version TEXT NOT NULL,
            hype REAL,
            growth REAL,
            evidence REAL,
            PRIMARY KEY (text_hash, model_version)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE fundamentals (
            id INTEGER PRIMARY KEY,
            entity_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            date TEXT NOT NULL,
            value REAL,
            unit TEXT,
            source TEXT NOT NULL DEFAULT 'csv',
            filed_at TEXT,
            imported_at TEXT NOT NULL
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_fundamentals_key ON fundamentals"
        "(entity_id, metric, date, source, COALESCE(filed_at, ''))"
    )
    db.execute("CREATE INDEX idx_fundamentals_metric ON fundamentals(entity_id, metric, date)")
    db["documents"].enable_fts(["title", "text"], create_triggers=True, tokenize="unicode61")


def _m002_analysis(db: sqlite_utils.Database) -> None:
    """Materialised narrative heat, divergence, flags and test statistics, so reads stay cheap.

    ``model_version`` is '' when no scores existed; ``metric`` is '' for an entity's heat-only
    rows (no fundamentals) and for statistics about the heat series itself.
    """
    db.execute(
        """
        CREATE TABLE heat (
            entity_id TEXT NOT NULL,
            freq TEXT NOT NULL,
            model_version TEXT NOT NULL,
            period TEXT NOT NULL,
            documents INTEGER NOT NULL,
            stories INTEGER NOT NULL,
            sources INTEGER NOT NULL,
            scored INTEGER NOT NULL,
            volume_share REAL,
            volume_index REAL,
            hype_mean REAL,
            growth_mean REAL,
            evidence_mean REAL,
            hype_top REAL,
            growth_top REAL,
            evidence_top REAL,
            z_volume REAL,
            z_hype REAL,
            z_growth REAL,
            z_evidence REAL,
            z_hype_top REAL,
            heat_raw REAL,
            heat REAL,
            PRIMARY KEY (freq, model_version, entity_id, period)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE divergence (
            entity_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            freq TEXT NOT NULL,
            model_version TEXT NOT NULL,
            period TEXT NOT NULL,
            heat REAL,
            fundamental_level REAL,
            fundamental_growth REAL,
            growth_z REAL,
            growth_basis TEXT,
            unit TEXT,
            divergence REAL,
            flagged INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (freq, model_version, entity_id, metric, period)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE flags (
            id INTEGER PRIMARY KEY,
            entity_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            freq TEXT NOT NULL,
            model_version TEXT NOT NULL,
            threshold REAL NOT NULL,
            min_periods INTEGER NOT NULL,
            start_period TEXT NOT NULL,
            end_period TEXT NOT NULL,
            peak_period TEXT NOT NULL,
            peak_value REAL NOT NULL,
            periods INTEGER NOT NULL,
            top_sentences TEXT NOT NULL DEFAULT '[]',
            computed_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE heat_sources (
            entity_id TEXT NOT NULL,
            freq TEXT NOT NULL,
            period TEXT NOT NULL,
            source_id INTEGER NOT NULL,
            stories INTEGER NOT NULL,
            documents INTEGER NOT NULL,
            source_total INTEGER NOT NULL,
            PRIMARY KEY (freq, entity_id, period, source_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        "CREATE INDEX idx_flags_lookup ON flags(freq, model_version, entity_id, metric, start_period)"
    )
    db.execute(
        """
        CREATE TABLE statistics (
            entity_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            freq TEXT NOT NULL,
            model_version TEXT NOT NULL,
            test TEXT NOT NULL,
            result TEXT NOT NULL,
            computed_at TEXT NOT NULL,
            PRIMARY KEY (freq, model_version, entity_id, metric, test)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """
        CREATE TABLE analysis_runs (
            freq TEXT NOT NULL,
            model_version TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            computed_at TEXT NOT NULL,
            PRIMARY KEY (freq, model_version)
        ) WITHOUT ROWID"""
    )
    # Heat aggregates scan every dated document; this index covers those columns so the scan
    # never touches the (large) text pages.
    db.execute("CREATE INDEX idx_documents_heat ON documents(published_at, source_id, cluster_id)")
    db.execute("CREATE INDEX idx_documents_cluster ON documents(cluster_id)")


def _m003_external_id_index(db: sqlite_utils.Database) -> None:
    """Feed items are matched by (source, guid) on every ingest; without this it is a scan."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_documents_external_id ON documents(source_id, external_id)"
    )


def _m004_claims(db: sqlite_utils.Database) -> None:
    """The claims ledger (:mod:`analyzer.storage.claims`) and the entities' EIA series links."""
    from analyzer.storage.claims import create_claims_tables

    create_claims_tables(db)
    db.execute("ALTER TABLE entities ADD COLUMN eia_series TEXT")


def _m005_labels_and_watches(db: sqlite_utils.Database) -> None:
    """Human labels for sentences, and watches that turn new flags into alerts.

    A label belongs to a sentence's text (its ``text_hash``, as in ``sentences``) and one
    annotator; the text is kept with it so a label outlives re-ingesting its document. Any of
    the three labels may be NULL (not judged). A delivery row records each (watch, flag) once;
    its ``status`` is ``baseline`` (present when the watch was added, never sent), ``sending``
    (claimed, result not recorded yet), ``sent`` or ``failed``.
    """
    db.execute(
        """
        CREATE TABLE labels (
            text_hash TEXT NOT NULL,
            annotator TEXT NOT NULL,
            text TEXT NOT NULL,
            document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL,
            sentence_index INTEGER,
            hype INTEGER CHECK (hype IN (0, 1)),
            growth INTEGER CHECK (growth IN (0, 1)),
            evidence INTEGER CHECK (evidence IN (0, 1)),
            guideline_version TEXT NOT NULL,
            labelled_at TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT 'import',
            PRIMARY KEY (text_hash, annotator)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX idx_labels_document ON labels(document_id, sentence_index)")
    db.execute("CREATE INDEX idx_labels_annotator ON labels(annotator, labelled_at)")
    db.execute(
        """
        CREATE TABLE watches (
            id INTEGER PRIMARY KEY,
            entity_id TEXT,
            channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
            target TEXT NOT NULL,
            freq TEXT NOT NULL DEFAULT 'quarter',
            secret TEXT,
            secret_env TEXT,
            allow_private INTEGER NOT NULL DEFAULT 0,
            enabled INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_watches_key ON watches(COALESCE(entity_id, ''), channel, target, freq)"
    )
    db.execute(
        """
        CREATE TABLE alert_deliveries (
            watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
            entity_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            freq TEXT NOT NULL,
            start_period TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            first_seen_at TEXT NOT NULL,
            last_attempt_at TEXT,
            sent_at TEXT,
            last_error TEXT,
            payload TEXT,
            PRIMARY KEY (watch_id, entity_id, metric, freq, start_period)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX idx_alert_deliveries_status ON alert_deliveries(status, watch_id)")


def _m006_divergence_bands(db: sqlite_utils.Database) -> None:
    """Uncertainty and provenance of the analysis: bootstrap bands of heat and divergence, whether
    a period has enough stories to be reliable, the standardisation mode ('realtime': each period
    against the history up to it; 'hindsight': against the whole history), and each flag's
    confidence and the band at its peak. Rows computed before this migration keep NULL bands.
    """
    for table, columns in (
        ("heat", ("heat_low REAL", "heat_high REAL", "reliable INTEGER", "mode TEXT")),
        (
            "divergence",
            (
                "heat_low REAL",
                "heat_high REAL",
                "divergence_low REAL",
                "divergence_high REAL",
                "reliable INTEGER",
                "mode TEXT",
            ),
        ),
        ("flags", ("confidence REAL", "peak_low REAL", "peak_high REAL", "mode TEXT")),
    ):
        for column in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def _m007_segment_kind(db: sqlite_utils.Database) -> None:
    """Each stored sentence's segment kind (``prose``, ``heading``, ``formula``, ...; see
    analyzer.scoring.segments). Non-prose segments are stored and shown but not scored; rows
    written before this migration are prose."""
    db.execute("ALTER TABLE sentences ADD COLUMN kind TEXT NOT NULL DEFAULT 'prose'")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial,
    _m002_analysis,
    _m003_external_id_index,
    _m004_claims,
    _m005_labels_and_watches,
    _m006_divergence_bands,
    _m007_segment_kind,
]


SCHEMA_VERSION = len(MIGRATIONS)
