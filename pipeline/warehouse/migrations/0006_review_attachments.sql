-- ClaimWatch warehouse, schema version 6: the review lifecycle (pipeline/reporting/lifecycle.py).
-- A review row is now one transition (decision: confirm, dismiss, appeal, rectify, uphold,
-- overturn); an appeal or rectification may carry an attachment, stored as a file named by its
-- SHA-256 under data_dir/attachments (never a path from the uploader). Rows written before keep ''.
ALTER TABLE reviews ADD COLUMN attachment_sha256 String DEFAULT '';
ALTER TABLE reviews ADD COLUMN attachment_name String DEFAULT '';
ALTER TABLE reviews ADD COLUMN attachment_type String DEFAULT '';
ALTER TABLE reviews ADD COLUMN attachment_bytes UInt64 DEFAULT 0;
