-- flowd schema version 7: finding sub-workflow executions whose parent ended without them.
--
-- A child runs inside its parent's run and is never claimed on its own. When the parent ends, its
-- run cancels the child; if the instance dies between the parent's end and the child's, nobody
-- would ever run or end the child. Instances stop renewing such a child's lease and close it once
-- the lease lapses (EventStore::claim_orphans, DurableRunner). Running children are few: this index
-- keeps looking for them cheap however many top-level executions are waiting.
CREATE INDEX executions_children ON executions (parent) WHERE parent IS NOT NULL AND NOT terminal;
