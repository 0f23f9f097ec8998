-- ClaimWatch warehouse, schema version 5: who is working a violation (the console's review queue).
--
-- Every assignment is a new row, like a review: the newest per violation counts
-- (argMax(assignee, (assigned_at, assignment_id))); assignee '' means the violation was released.
-- The assignment id starts with the time to the microsecond, so it orders two assignments made in
-- the same second. mcn_id is the violation's, for the scope filter. A small table: on a cluster it
-- is replicated to every node (like reviews), so a query over the sharded violations reads it
-- whole on each node.
CREATE TABLE IF NOT EXISTS assignments (
    assignment_id String,
    violation_id String,
    mcn_id String,
    assignee String,
    assigned_by String,
    assigned_at DateTime('UTC')
) ENGINE = ReplacingMergeTree ORDER BY (violation_id, assignment_id);
