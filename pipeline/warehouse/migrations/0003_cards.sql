-- ClaimWatch warehouse, schema version 3: selling-point cards (docs/cards.md) and off-card speech.

-- Selling-point cards with their history. Importing a card whose selling points changed adds a
-- version (1, 2 … per product); approving a version adds a row with change = 'approved'. Nothing
-- is replaced: a version's import row and its approval row differ in `change`, which is in the
-- sorting key because both may fall in the same second (DateTime counts seconds), and the same
-- import or approval written twice is a duplicate key and folds away. The card in force for a
-- product is its highest approved version. Keyed by MCN first: every reader is scoped to one MCN.
CREATE TABLE IF NOT EXISTS cards (
    mcn_id String,
    product_id String,
    version UInt32,
    change String,
    updated_at DateTime('UTC'),
    status String,
    label String,
    source String,
    imported_at DateTime('UTC'),
    points Array(String),
    content_hash String,
    approved_by String,
    approved_at Nullable(DateTime('UTC')),
    override_reason String,
    findings String,
    raw String
) ENGINE = ReplacingMergeTree ORDER BY (mcn_id, product_id, version, change, updated_at);

-- A speech violation said of a product whose approved card does not make that claim (1), or not
-- judged so (0: no approved card, or the claim is on it). Rows written before keep 0.
ALTER TABLE violations ADD COLUMN off_card UInt8 DEFAULT 0;
