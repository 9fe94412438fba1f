-- flowd schema version 6: an append writes its events; the executions row changes only with the
-- execution's lifecycle.
--
-- Every append used to UPDATE its execution's row (version, current step, updated_at) and checked
-- the expected version there: a second heap tuple, its WAL record and a row lock per append, about
-- 40 % of the appender's server time per batch. Now:
--   * events' UNIQUE (stream_id, stream_version) is the concurrency check. The appender numbers a
--     stream's new events from the version it knows; a writer that lost a race fails on that
--     index (the whole transaction rolls back) and re-decides its batch from fresh versions, so a
--     stale expected version is still a typed conflict and nothing is ever overwritten.
--   * the executions row is written when the execution starts, changes status (paused, waiting,
--     running again) or ends, and by any append to an execution that has ended. Its `version` is
--     the stream's version as of that write, so it is exact for ended executions (retention counts
--     with it) and may lag for running ones.
--   * the stream's current version, latest step and last change come from its newest events
--     (two backward probes of the (stream_id, stream_version) index): execution_summaries.

ALTER TABLE executions
  DROP COLUMN current_step,
  DROP COLUMN current_event,
  DROP COLUMN current_attempt;
COMMENT ON COLUMN executions.version IS
  'stream version when this row was last written (start, status change, end); '
  'the current version is flowd_stream_version(id, version)';

-- The stream's current version: its newest event, or the row's version when retention removed the
-- events. `row_version` is executions.version.
CREATE FUNCTION flowd_stream_version(execution_id text, row_version bigint) RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT GREATEST(row_version,
    (SELECT max(stream_version) FROM events WHERE stream_id = 'execution-' || execution_id))
$$;

-- What queries read: the executions row with its stream's version, latest step event and time of
-- the last change. The laterals run only for the rows a query returns.
CREATE VIEW execution_summaries AS
  SELECT x.id, x.workflow, x.workflow_version,
    GREATEST(x.version, head.stream_version) AS version,
    x.status, x.terminal, x.dedupe_key, x.started_at, x.ended_at,
    step.step AS current_step, step.type AS current_event, step.attempt AS current_attempt,
    x.error, x.owner, x.lease_until, x.retry_of, x.parent,
    GREATEST(x.updated_at, head.recorded_at) AS updated_at, x.purged_at
  FROM executions x
  LEFT JOIN LATERAL (
    SELECT e.stream_version, e.recorded_at FROM events e
    WHERE e.stream_id = 'execution-' || x.id ORDER BY e.stream_version DESC LIMIT 1) head ON true
  LEFT JOIN LATERAL (
    SELECT e.step, e.type, e.attempt FROM events e
    WHERE e.stream_id = 'execution-' || x.id AND e.step IS NOT NULL
    ORDER BY e.stream_version DESC LIMIT 1) step ON true;

-- One row per execution stream, with its current version (as since migration 5).
CREATE OR REPLACE VIEW streams AS
  SELECT 'execution-' || id AS stream_id, flowd_stream_version(id, version) AS version,
    started_at AS created_at
  FROM executions;
