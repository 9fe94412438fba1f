-- flowd schema version 8: a counter of retention runs, for appenders' version caches.
--
-- An appender may decide a batch from the versions it committed itself (its cache), and the events'
-- UNIQUE (stream_id, stream_version) catches any stream another writer moved since — unless
-- retention deleted that stream's events in between, when a stale writer's next version no longer
-- collides with anything. Every retention transaction increments this counter; an appender reads
-- it in each batch's transaction after copying the events and, when it moved, forgets its cache
-- and decides the batch again from fresh reads (where the executions row's version, exact for an
-- ended execution, makes the stale request a conflict).
CREATE TABLE retention_epoch (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  epoch bigint NOT NULL DEFAULT 0
);
INSERT INTO retention_epoch DEFAULT VALUES;
