#pragma once
// Actors: who or what caused an event, as written in the event's metadata.actor (and in
// execution_commands.actor). One spelling per source, so audits can group and filter by them:
//
//   <token name>                          an API call (the name of the bearer token; "anonymous"
//                                         when the server has no tokens; "flowctl" for direct mode)
//   kafka:<topic>/<partition>/<offset>    a trigger record
//   webhook:<path>/<delivery id>          a webhook delivery
//   cron:<schedule>@<fire time>           a cron tick (fire time RFC 3339, UTC)
//   flowd:<instance>                      the engine itself (steps, retries, the terminal event)
#include <cstdint>
#include <string>
#include <string_view>

#include "flowd/engine/event.h"

namespace flowd::actor {

inline std::string kafka(std::string_view topic, std::int32_t partition, std::int64_t offset) {
  return "kafka:" + std::string(topic) + "/" + std::to_string(partition) + "/" +
         std::to_string(offset);
}

inline std::string webhook(std::string_view path, std::string_view delivery_id) {
  return "webhook:" + std::string(path) + "/" + std::string(delivery_id);
}

inline std::string cron(std::string_view schedule, TimePoint fire_time) {
  return "cron:" + std::string(schedule) + "@" + format_time(fire_time);
}

inline std::string engine(std::string_view instance) {
  return "flowd:" + std::string(instance);
}

}  // namespace flowd::actor
