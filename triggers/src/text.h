#pragma once
// Byte-level helpers of the trigger layer: record bytes are not always UTF-8, and nlohmann::json
// refuses to serialise strings that are not, so every string taken from a record is checked.
#include <string>
#include <string_view>

namespace flowd::triggers::text {

bool is_utf8(std::string_view bytes);
std::string base64(std::string_view bytes);
bool iequals(std::string_view a, std::string_view b);
std::string lower(std::string_view s);

}  // namespace flowd::triggers::text
