-- flowd schema version 2: operator commands to executions (pause, resume, cancel).
-- flowctl (and later the HTTP API) inserts a row; the instance that owns the execution applies it
-- through its engine, which appends the audited event, and marks the row processed. A command for
-- an execution nobody runs waits until an instance claims it.
CREATE TABLE execution_commands (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  execution_id text NOT NULL REFERENCES executions (id),
  command text NOT NULL CHECK (command IN ('pause', 'resume', 'cancel')),
  payload jsonb NOT NULL DEFAULT '{}',
  actor text NOT NULL DEFAULT 'flowctl',
  created_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  result text
);
CREATE INDEX execution_commands_pending ON execution_commands (execution_id, id)
  WHERE processed_at IS NULL;
