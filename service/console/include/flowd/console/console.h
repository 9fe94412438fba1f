#pragma once
// The web console as routes of flowd's HTTP server: GET / answers the console's page, and
// GET /console/<file> and /console/lib/<file> its scripts, styles and libraries, all from files
// embedded in the binary (no disk, no CDN: it works offline). These routes need no bearer token:
// they hold no data; the page asks for the token and sends it with every /api/v1 call.
//
// Lifecycle: call before Server::start(), like any other route registration.
#include "http/router.h"

namespace flowd::console {

void register_routes(http::Router& router);

// The Content-Type for a served file name (by its extension).
std::string_view content_type(std::string_view name);

}  // namespace flowd::console
