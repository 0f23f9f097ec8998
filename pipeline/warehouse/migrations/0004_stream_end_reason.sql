-- ClaimWatch warehouse, schema version 4: why a stream ended, when not as its audio did (a live
-- source gone for good, an error: `StreamInfo.end_reason`). Rows written before keep ''.
ALTER TABLE streams ADD COLUMN end_reason String DEFAULT '';
