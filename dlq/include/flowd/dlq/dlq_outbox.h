#pragma once
// The dead_letters table as an outbox for Kafka: the flowd.dlq record of an execution dead letter
// (Spring Kafka's kafka_dlt-* headers, value = the dead letter as JSON), and the queue of
// republish requests (`flowctl dlq retry ID --republish`). The daemon's DeadLetterPublisher
// (service/flowd/dead_letter_publisher.h) relays both. Blocking; any non-Asio thread.
#include <chrono>
#include <string>
#include <vector>

#include "flowd/dlq/dead_letter_store.h"
#include "flowd/triggers/producer.h"

namespace flowd::dlq {

// Key: the execution id; value: to_json(letter); headers: kafka_dlt-* (original-* only when a
// Kafka record triggered the execution), flowd-dlq-id, -kind, -reason-code, -workflow,
// -execution, -attempt, traceparent-less trace id as flowd-dlq-trace-id.
triggers::OutgoingRecord make_dlq_record(const DeadLetter& letter, const std::string& topic);

// The original record of a trigger letter, unchanged, to its original topic and partition.
triggers::OutgoingRecord make_republish_record(const DeadLetter& letter);

// Letters whose republish was requested and not done yet, oldest first.
Result<std::vector<DeadLetter>> list_republish_requests(DeadLetterStore& store, std::size_t limit);
// The record is back on its topic: the letter is resolved, its retry completed, audited.
Result<void> mark_republished(DeadLetterStore& store, const DeadLetter& letter,
                              const std::string& where);

}  // namespace flowd::dlq

namespace flowd::dlq {

// Retention (`flowctl admin retention`): deletes the dead letters that left the queue (resolved,
// discarded, archived) and last changed before now - older_than, with their retries; a Purged
// audit event stays for each. Letters still pending or retrying are kept, as running executions
// are. Returns how many (dry_run: would be) deleted.
Result<std::int64_t> purge_dead_letters(DeadLetterStore& store,
                                        std::chrono::milliseconds older_than, bool dry_run);

}  // namespace flowd::dlq
