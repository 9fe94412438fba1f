-- flowd schema version 3: the dead-letter store (dlq/).
-- A dead letter is something flowd could not run: a poison trigger record (kind 'trigger': not
-- JSON, unknown workflow, input failing its schema, filter error, ...) or, reserved for the
-- reprocessing issue, an execution that failed for good (kind 'execution'). Rows are kept for
-- people to inspect and reprocess (retry, retry with input, from the failed step, discard, bulk);
-- the status columns below are what that needs.
CREATE TABLE dead_letters (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('trigger', 'execution')),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'retrying', 'retried', 'discarded')),
  -- Idempotency: one row per source. 'trigger:<topic>/<partition>/<offset>[#<workflow>]' for a
  -- record (a redelivered poison record finds its row), 'execution:<id>' for a failed run.
  dedupe_key text NOT NULL,
  reason_code text NOT NULL,             -- PoisonCode / ErrorCode spelling (NOT_JSON, ...)
  reason_message text NOT NULL,          -- what and where
  workflow text,                         -- the workflow concerned, when known
  workflow_version integer,
  execution_id text,                     -- kind 'execution': the failed execution
  failed_step text,                      -- kind 'execution': the step that failed
  input jsonb,                           -- the input that was (or would have been) used
  -- The original Kafka record, byte for byte (kind 'trigger').
  source_topic text,
  source_partition integer,
  source_offset bigint,
  source_timestamp timestamptz,
  consumer_group text,
  record_key bytea,                      -- NULL: the record had a null key
  record_value bytea,
  header_names bytea[] NOT NULL DEFAULT '{}',   -- header i = (header_names[i], header_values[i])
  header_values bytea[] NOT NULL DEFAULT '{}',  -- NULL element: a header with a null value
  -- Reprocessing (a later issue): attempts made, the last one's error, the execution it started.
  attempts integer NOT NULL DEFAULT 0,
  last_error jsonb,
  retry_execution_id text,
  resolved_at timestamptz,
  resolved_by text,
  -- Delivery of the record to the flowd.dlq topic (NULL: not yet; republished until set).
  published_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT dead_letters_dedupe_key UNIQUE (dedupe_key),
  CONSTRAINT dead_letters_headers_paired
    CHECK (cardinality(header_names) = cardinality(header_values))
);
CREATE INDEX dead_letters_created ON dead_letters (created_at DESC, id DESC);
CREATE INDEX dead_letters_status ON dead_letters (status, created_at DESC, id DESC);
CREATE INDEX dead_letters_workflow ON dead_letters (workflow, created_at DESC, id DESC);
CREATE INDEX dead_letters_unpublished ON dead_letters (created_at) WHERE published_at IS NULL;
