-- ClaimWatch warehouse, schema version 1.
--
-- Portable between clickhouse-server 18.16 (Debian) and ClickHouse 26.x (chdb): no DateTime64,
-- LowCardinality, Map, JSON functions, TTL or window functions. Every time is DateTime('UTC');
-- display time zones are applied by the readers.
--
-- Idempotency: event tables are ReplacingMergeTree keyed so that the same event inserted twice
-- has the same sorting key; every reader queries with FINAL, so a duplicate never shows.
-- ReplacingMergeTree only folds rows of one partition, so a table's partition key must be a
-- function of its event's own fields (never of the insertion time).

-- Applied migrations. Plain MergeTree: the migrator inserts one row per version, once.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC')
) ENGINE = MergeTree ORDER BY version;

-- One row per monitored stream; later updates (ended_at) replace earlier ones: the version
-- column updated_at keeps the newest row per stream_id.
CREATE TABLE IF NOT EXISTS streams (
    stream_id String,
    anchor_id String,
    mcn_id String,
    started_at DateTime('UTC'),
    ended_at Nullable(DateTime('UTC')),
    source String,
    audio_path String,
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at) ORDER BY stream_id;

-- Recognised speech. Readers fetch a stream's transcript in time order around a violation, so
-- rows sort by stream first; segment_id (deterministic from stream and offsets) makes the key
-- unique. Monthly partitions by speech time keep retention a matter of dropping old partitions.
CREATE TABLE IF NOT EXISTS transcripts (
    segment_id String,
    stream_id String,
    anchor_id String,
    mcn_id String,
    ts DateTime('UTC'),
    offset_s Float64,
    end_offset_s Float64,
    text String,
    no_speech_prob Float32,
    avg_logprob Float32,
    low_confidence UInt8,
    model String,
    inserted_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (stream_id, segment_id);

-- Listing (product card) events as received, the full record in `raw` (JSON) for evidence.
CREATE TABLE IF NOT EXISTS listings (
    event_id String,
    ts DateTime('UTC'),
    stream_id String,
    anchor_id String,
    mcn_id String,
    event String,
    listing_id String,
    product_id Nullable(String),
    title String,
    brand String,
    category String,
    price Nullable(Float64),
    qualifications String,
    selling_points String,
    raw String,
    inserted_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (stream_id, event_id);

-- The selection ledger with its history: every import adds a version per product, so evidence
-- can show a row as it stood at any time (argMax(..., imported_at) with imported_at <= t).
-- Keyed by MCN first because every reader is scoped to one MCN; the same import re-run is a
-- duplicate key and folds away.
CREATE TABLE IF NOT EXISTS ledger (
    mcn_id String,
    product_id String,
    imported_at DateTime('UTC'),
    import_id String,
    product_name String,
    brand String,
    category String,
    supplier String,
    status String,
    reviewed_at Nullable(Date),
    reviewer String,
    approved_claims Array(String),
    qualifications String,
    test_report String,
    test_report_date Nullable(Date),
    raw String,
    row_hash String
) ENGINE = ReplacingMergeTree ORDER BY (mcn_id, product_id, imported_at);

-- Violations. Scores and officers' views filter by MCN, then anchor, then time: that is the
-- sorting key's order, with event_id last to make it unique. Partitioned by month of the event
-- because scores are computed per month.
CREATE TABLE IF NOT EXISTS violations (
    event_id String,
    stream_id String,
    anchor_id String,
    mcn_id String,
    kind String,
    category String,
    severity String,
    ts DateTime('UTC'),
    offset_s Float64,
    end_offset_s Float64,
    source String,
    listing_id Nullable(String),
    product_id Nullable(String),
    text String,
    term String,
    rule_id String,
    legal_basis String,
    lexicon_version String,
    rewrite Nullable(String),
    evidence String,
    inserted_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (mcn_id, anchor_id, ts, event_id);

-- Review decisions; the newest per violation counts (argMax(decision, reviewed_at)).
CREATE TABLE IF NOT EXISTS reviews (
    review_id String,
    violation_id String,
    mcn_id String,
    reviewer String,
    decision String,
    reason String,
    reviewed_at DateTime('UTC')
) ENGINE = ReplacingMergeTree ORDER BY (violation_id, review_id);

-- Who did what, when. Append-only: ClaimWatch never updates or deletes from it.
CREATE TABLE IF NOT EXISTS audit_log (
    entry_id String,
    ts DateTime('UTC'),
    actor String,
    action String,
    target String,
    mcn_id String,
    details String
) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (ts, entry_id);
