-- flowd schema version 4: checkpoints of the outbox relay (service/flowd/outbox_relay.h).
-- The events table is the outbox: the relay reads the gap-safe global log after its checkpoint,
-- publishes to Kafka, and moves the checkpoint only after every delivery report succeeded.
-- One relay per database at a time holds an advisory lock; the row says where it got to.
CREATE TABLE relay_checkpoints (
  name text PRIMARY KEY,                 -- the relay ('flowd.events' by default)
  tx_id xid8 NOT NULL DEFAULT '0',       -- Position{tx_id, global_position} of the last event
  global_position bigint NOT NULL DEFAULT 0,  -- delivered, in read_all order
  published bigint NOT NULL DEFAULT 0,   -- events delivered so far (for operators)
  updated_at timestamptz NOT NULL DEFAULT now()
);
