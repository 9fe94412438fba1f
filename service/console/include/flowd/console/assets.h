#pragma once
// The web console's files, embedded into the binary at build time (embed.cmake): the console's
// own files from service/console/web/ and the pinned libraries from its node_modules/, keyed by
// the path they are served at ("/index.html", "/app.js", "/lib/preact.js").
#include <map>
#include <string>
#include <string_view>

namespace flowd::console {

const std::map<std::string, std::string_view>& files();

}  // namespace flowd::console
