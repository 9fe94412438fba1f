-- flowd schema version 5: the executions row carries its stream's version; `streams` goes.
--
-- Every stream is an execution's (`execution-<id>`) and starts with ExecutionStarted, which creates
-- the executions row in the same transaction, so a second row per stream only doubled the writes
-- of every append (a heap tuple and its WAL per append). The appender now checks the expected
-- version with `UPDATE executions ... WHERE version = <expected>`.

-- Streams written by older flowd without an ExecutionStarted have no executions row: their version
-- would be lost. The store never wrote such streams through start_execution or the engine, so this
-- only stops a hand-made database, with a message saying what to do.
DO $$
DECLARE
  orphans bigint;
BEGIN
  SELECT count(*) INTO orphans FROM streams s
    WHERE NOT EXISTS (SELECT 1 FROM executions x WHERE 'execution-' || x.id = s.stream_id);
  IF orphans > 0 THEN
    RAISE EXCEPTION 'flowd migration 0005: % stream(s) without an executions row (no ExecutionStarted); '
      'delete their events or add the rows, then migrate again', orphans
      USING ERRCODE = 'data_exception';
  END IF;
END $$;

UPDATE executions x SET version = s.version
  FROM streams s WHERE s.stream_id = 'execution-' || x.id AND x.version <> s.version;
DROP TABLE streams;

-- The old name stays readable (operators' queries, tests): one row per execution stream.
CREATE VIEW streams AS
  SELECT 'execution-' || id AS stream_id, version, started_at AS created_at FROM executions;

-- event_id is a random uuid made by the server (never supplied by a client, never looked up): its
-- unique index cost a random B-tree insertion (and full-page images after each checkpoint) per
-- event for a guarantee gen_random_uuid() already gives.
ALTER TABLE events DROP CONSTRAINT events_event_id_key;

-- Claiming takes the oldest executions nobody holds (ORDER BY started_at, id ... LIMIT n): keyed
-- by lease_until, the index made every claim sort all unclaimed executions, and a claim or renewal
-- (which only moves the lease) could never be a HOT update. Keyed by the claim order, a claim reads
-- the index in order and stops after n rows, past the few held ones.
DROP INDEX executions_resumable;
CREATE INDEX executions_resumable ON executions (started_at, id) WHERE NOT terminal;
