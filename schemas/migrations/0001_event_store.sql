-- flowd event store, schema version 1.
-- Applied by eventstore/src/migrations.cc inside one transaction that holds an advisory lock, and
-- recorded in flowd_schema_version. Never edit an applied migration: add the next file instead.

-- Times cross the wire as microseconds since the Unix epoch (exact both ways).
CREATE FUNCTION flowd_ts(micros bigint) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT timestamptz 'epoch' + micros * interval '1 microsecond' $$;
CREATE FUNCTION flowd_micros(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

-- One row per stream (`execution-<id>`): the stream's current version. Appends lock the row and
-- check the caller's expected version against it; events can never overwrite each other because
-- (stream_id, stream_version) is unique as well.
CREATE TABLE streams (
  stream_id text PRIMARY KEY,
  version bigint NOT NULL CHECK (version >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);

-- The append-only log. Readers of the whole log order by (tx_id, global_position) and only read
-- rows whose transaction is older than every running one (tx_id < pg_snapshot_xmin), so an event
-- that commits late with a low position is never skipped (notes/eventstore.md: the gap trap).
CREATE TABLE events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stream_id text NOT NULL,
  stream_version bigint NOT NULL CHECK (stream_version >= 1),
  event_id uuid NOT NULL DEFAULT gen_random_uuid(),
  type text NOT NULL,
  step text,                 -- step path, NULL for execution-level events
  attempt integer,           -- step attempt, NULL where it does not apply
  occurred_at timestamptz NOT NULL,   -- when the engine decided (Event::time)
  data jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',  -- trace context, actor, causation / correlation ids
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
  CONSTRAINT events_event_id_key UNIQUE (event_id)
);
CREATE INDEX events_tx_position ON events (tx_id, global_position);

-- Events are immutable. Deleting is allowed only to retention, which sets flowd.allow_delete
-- for its own transaction (SET LOCAL).
CREATE FUNCTION flowd_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('flowd.allow_delete', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'flowd: % on % is not allowed (append-only)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION flowd_forbid_change();

-- Projection of each execution, updated in the transaction that appends its events.
CREATE TABLE executions (
  id text PRIMARY KEY,
  workflow text NOT NULL,
  workflow_version integer NOT NULL,
  version bigint NOT NULL,               -- stream version the row reflects
  status text NOT NULL,                  -- ExecutionStatus spelling (to_string)
  terminal boolean NOT NULL DEFAULT false,
  dedupe_key text UNIQUE,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  current_step text,                     -- the latest step event: step path,
  current_event text,                    --   its type,
  current_attempt integer,               --   and attempt
  error jsonb,                           -- the failure of a failed execution
  owner text,                            -- instance holding the lease
  lease_until timestamptz,
  retry_of text,
  parent text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  purged_at timestamptz                  -- retention removed the events
) WITH (fillfactor = 50);  -- room for HOT updates: a running execution's row changes per append
CREATE INDEX executions_started ON executions (started_at DESC, id DESC);
CREATE INDEX executions_workflow ON executions (workflow, started_at DESC, id DESC);
CREATE INDEX executions_status ON executions (status, started_at DESC, id DESC);
-- Running executions are few: lease queries (resumable, renew by owner) scan this partial index.
CREATE INDEX executions_resumable ON executions (lease_until NULLS FIRST) WHERE NOT terminal;
CREATE INDEX executions_retention ON executions (ended_at) WHERE terminal AND purged_at IS NULL;

-- Registry of workflow definitions: immutable versions, identified by name@version.
CREATE TABLE workflow_definitions (
  name text NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  content_hash text NOT NULL,            -- sha256 of the canonical JSON document
  document jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);
CREATE TRIGGER workflow_definitions_immutable BEFORE UPDATE OR DELETE OR TRUNCATE
  ON workflow_definitions FOR EACH STATEMENT EXECUTE FUNCTION flowd_forbid_change();

-- Snapshots of ExecutionState so resume and replay need not refold from event 1.
CREATE TABLE snapshots (
  execution_id text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  state jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (execution_id, version)
);
