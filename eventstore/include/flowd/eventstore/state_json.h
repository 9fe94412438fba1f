#pragma once
// The snapshot encoding of ExecutionState: every field, times as nanoseconds since the epoch, so
// that decode(encode(s)) == s and a state resumed from a snapshot folds on exactly like the live
// one. Independent of ExecutionState::to_json (a presentation format that may change).
#include "flowd/engine/execution_state.h"
#include "flowd/engine/json.h"

namespace flowd::eventstore {

inline constexpr int kSnapshotFormat = 1;

Json snapshot_to_json(const ExecutionState& state);
Result<ExecutionState> snapshot_from_json(const Json& json);

}  // namespace flowd::eventstore
