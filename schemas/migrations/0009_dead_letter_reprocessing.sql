-- flowd schema version 9: dead letters of failed executions and their reprocessing (dlq/).
--
-- States: pending (waiting for a person), retrying (a retry execution runs), resolved (a retry
-- completed, or the record was republished), discarded (dropped on purpose, with a reason),
-- archived (kept for the record, out of the working set). 'retried' of migration 0003 was never
-- written by a release and becomes 'retrying'.
ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_status_check;
UPDATE dead_letters SET status = 'retrying' WHERE status = 'retried';
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_status_check
  CHECK (status IN ('pending', 'retrying', 'resolved', 'discarded', 'archived'));

ALTER TABLE dead_letters
  ADD COLUMN first_failed_at timestamptz,  -- the original failure
  ADD COLUMN last_failed_at timestamptz,   -- the latest failure (of a retry, when one failed)
  ADD COLUMN trace_id text,                -- W3C trace id of the failed execution / record
  ADD COLUMN retries integer NOT NULL DEFAULT 0,  -- retry executions started so far
  ADD COLUMN resolution text;              -- why it left the queue (completed by X, reason, ...)
UPDATE dead_letters SET first_failed_at = created_at, last_failed_at = created_at;
CREATE INDEX dead_letters_reason ON dead_letters (reason_code, created_at DESC, id DESC);
CREATE INDEX dead_letters_execution ON dead_letters (execution_id) WHERE execution_id IS NOT NULL;

-- One row per retry of a dead letter. (dead_letter_id, retry_number) is the idempotency key: two
-- operators retrying the same letter at once get the same row, and the started execution's
-- dedupe key is 'dlq:<id>:<retry_number>', so one execution starts.
CREATE TABLE dead_letter_retries (
  dead_letter_id bigint NOT NULL REFERENCES dead_letters (id) ON DELETE CASCADE,
  retry_number integer NOT NULL CHECK (retry_number >= 1),
  execution_id text NOT NULL,            -- the new execution (planned before it is started)
  mode text NOT NULL,                    -- same-input | input | patch | from-failed-step | republish
  workflow_version integer,
  input jsonb,                           -- the input it starts with (planned, so a crash between
                                         -- this row and the start resumes the same start)
  from_failed_step boolean NOT NULL DEFAULT false,
  batch text,                            -- the bulk retry it belongs to (flowctl dlq retry --workflow)
  requested_by text NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,                -- the execution's start is durable
  outcome text CHECK (outcome IN ('completed', 'failed')),
  ended_at timestamptz,
  PRIMARY KEY (dead_letter_id, retry_number),
  CONSTRAINT dead_letter_retries_execution UNIQUE (execution_id)
);
CREATE INDEX dead_letter_retries_batch ON dead_letter_retries (batch) WHERE batch IS NOT NULL;

-- The audit trail: every action on a dead letter (created, retried, failed again, resolved,
-- discarded, archived, republished, purged) as an append-only event.
CREATE TABLE dead_letter_events (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dead_letter_id bigint NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  reason text,
  data jsonb NOT NULL DEFAULT '{}',
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_events_letter ON dead_letter_events (dead_letter_id, position);
CREATE TRIGGER dead_letter_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
  ON dead_letter_events FOR EACH STATEMENT EXECUTE FUNCTION flowd_forbid_change();

-- Republish requests (`flowctl dlq retry ID --republish`): the daemon's dead-letter publisher
-- puts the original record back on its topic and resolves the letter.
ALTER TABLE dead_letters ADD COLUMN republish_requested_at timestamptz;
CREATE INDEX dead_letters_republish ON dead_letters (republish_requested_at)
  WHERE republish_requested_at IS NOT NULL;
