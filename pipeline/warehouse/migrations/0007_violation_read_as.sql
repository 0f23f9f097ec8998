-- ClaimWatch warehouse, schema version 7: what a speech violation's term was read as, when the
-- recogniser's text held it through a homophone or a glitch (term 每白, read_as 美白, see
-- `Violation.read_as`). Rows written before, and terms read as written, keep ''.
ALTER TABLE violations ADD COLUMN read_as String DEFAULT '';
