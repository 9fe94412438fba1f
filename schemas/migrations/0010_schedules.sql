-- flowd schema version 10: cron schedules (triggers/scheduler.h, docs/cron.md "Schedules").
--
-- A schedule comes from a workflow's spec.triggers[].cron (source 'definition', kept in step with
-- the latest version) or from the API / flowctl (source 'api'). Its row is the projection the
-- scheduler works from; schedule_events is its audit trail; schedule_ticks holds one row per
-- (schedule, fire time) that was handled, whatever the outcome.
CREATE TABLE schedules (
  name text PRIMARY KEY,
  source text NOT NULL CHECK (source IN ('api', 'definition')),
  workflow text NOT NULL,
  workflow_version integer,              -- NULL: the latest version when the tick starts
  expression text NOT NULL,
  timezone text NOT NULL DEFAULT 'UTC',
  input jsonb,                           -- templates over tick.time, tick.date, schedule.name
  overlap text NOT NULL DEFAULT 'skip'
    CHECK (overlap IN ('skip', 'allow', 'bufferOne', 'bufferAll', 'cancelOther')),
  pause_on_failure boolean NOT NULL DEFAULT false,
  catchup_window_ms bigint NOT NULL DEFAULT 3600000 CHECK (catchup_window_ms >= 0),
  max_catchup integer NOT NULL DEFAULT 100 CHECK (max_catchup >= 0),
  jitter_ms bigint NOT NULL DEFAULT 0 CHECK (jitter_ms >= 0),
  start_at timestamptz,
  end_at timestamptz,
  paused boolean NOT NULL DEFAULT false,
  note text,                             -- why it is paused
  -- The scheduler's place: every fire time <= last_tick is handled; the next one is next_tick,
  -- due (with its jitter) at due_at; NULL when the schedule never fires again (end_at passed).
  last_tick timestamptz NOT NULL,
  next_tick timestamptz,
  due_at timestamptz,
  -- The last started execution while it may still run (overlap, pauseOnFailure, buffers).
  running_execution text,
  buffered integer NOT NULL DEFAULT 0,   -- ticks waiting for the running execution to end
  missed_total bigint NOT NULL DEFAULT 0,  -- ticks never run (outside the catch-up window / cap)
  definition_version integer,            -- source 'definition': the version that declared it
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The scheduler's one question: when is the next tick due? (and which are due now).
CREATE INDEX schedules_due ON schedules (due_at) WHERE NOT paused AND due_at IS NOT NULL;
CREATE INDEX schedules_running ON schedules (name) WHERE running_execution IS NOT NULL;

-- One row per handled tick. UNIQUE (schedule, fire_time) is the exactly-once guarantee beside the
-- executions' dedupe key: a fired tick's row is written by flowd_cron_tick_started below in the
-- transaction that appends its ExecutionStarted. No foreign key to schedules: the scheduler
-- holds the schedule's row lock while that transaction runs (a key check would wait for it), and
-- ticks outlive a deleted schedule for the record.
CREATE TABLE schedule_ticks (
  schedule text NOT NULL,
  fire_time timestamptz NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('fired', 'skipped', 'buffered', 'missed', 'failed')),
  execution_id text,                     -- fired: the execution; skipped: the one still running
  backfill boolean NOT NULL DEFAULT false,
  detail text,                           -- why (skipped / missed / failed)
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule, fire_time)
);
CREATE INDEX schedule_ticks_recent ON schedule_ticks (schedule, at DESC);
CREATE INDEX schedule_ticks_buffered ON schedule_ticks (schedule, fire_time)
  WHERE outcome = 'buffered';

-- The audit trail of schedules: created, updated, paused, unpaused, deleted, and every tick
-- outcome (TickFired, TickSkipped, TickBuffered, TicksMissed, TickFailed), append-only like
-- dead_letter_events.
CREATE TABLE schedule_events (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  schedule text NOT NULL,
  type text NOT NULL,
  actor text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}',
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedule_events_schedule ON schedule_events (schedule, position);
CREATE TRIGGER schedule_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
  ON schedule_events FOR EACH STATEMENT EXECUTE FUNCTION flowd_forbid_change();

-- A tick's claim shares the transaction of its start: when an execution whose dedupe key is a
-- cron actor ('cron:<schedule>@<RFC 3339 fire time>', engine/actor.h) is inserted, its tick row
-- and TickFired event are written with it. A buffered tick's row becomes fired, and so does a
-- missed one (a backfill runs it); a row with any other outcome is left alone (the execution's
-- dedupe key already keeps the start unique).
CREATE FUNCTION flowd_cron_tick_started() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  at_sign integer := position('@' IN NEW.dedupe_key);
  schedule_name text := substring(NEW.dedupe_key FROM 6 FOR at_sign - 6);
  fire timestamptz := substring(NEW.dedupe_key FROM at_sign + 1)::timestamptz;
BEGIN
  INSERT INTO schedule_ticks (schedule, fire_time, outcome, execution_id, backfill)
    VALUES (schedule_name, fire, 'fired', NEW.id, false)
    ON CONFLICT (schedule, fire_time) DO UPDATE
      SET outcome = 'fired', execution_id = EXCLUDED.execution_id, at = now(), detail = NULL
      WHERE schedule_ticks.outcome IN ('buffered', 'missed');
  INSERT INTO schedule_events (schedule, type, actor, data)
    VALUES (schedule_name, 'TickFired', NEW.dedupe_key,
            jsonb_build_object('fireTime', to_char(fire AT TIME ZONE 'UTC',
                                                   'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                               'executionId', NEW.id));
  RETURN NULL;
END $$;
CREATE TRIGGER executions_cron_tick AFTER INSERT ON executions FOR EACH ROW
  WHEN (NEW.dedupe_key LIKE 'cron:%@%') EXECUTE FUNCTION flowd_cron_tick_started();

-- Instances sleep until the next due tick; a change to any schedule wakes them (LISTEN).
CREATE FUNCTION flowd_schedules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('flowd_schedules', '');
  RETURN NULL;
END $$;
CREATE TRIGGER schedules_notify AFTER INSERT OR UPDATE OR DELETE ON schedules
  FOR EACH STATEMENT EXECUTE FUNCTION flowd_schedules_changed();
