# Writes OUT: a C++ file holding the console's files as raw strings, keyed by the path they are
# served at. WEB is service/console/web (the console's own files, served as /<name>), MODULES its
# node_modules (the pinned libraries, served as /lib/<name>). A library missing from MODULES
# (scripts/install-deps not run) becomes a module that says so, so the build never needs npm.
set(entries "")
set(body "#include \"flowd/console/assets.h\"\nnamespace flowd::console {\nnamespace {\n")
set(i 0)
file(GLOB web_files RELATIVE ${WEB} ${WEB}/*)
list(SORT web_files)
set(pairs "")
foreach(f ${web_files})
  list(APPEND pairs "${f}=${WEB}/${f}")
endforeach()
list(APPEND pairs
  "lib/preact.js=${MODULES}/preact/dist/preact.module.js"
  "lib/hooks.js=${MODULES}/preact/hooks/dist/hooks.module.js"
  "lib/htm.js=${MODULES}/htm/dist/htm.module.js")
foreach(pair ${pairs})
  string(FIND "${pair}" "=" eq)
  string(SUBSTRING "${pair}" 0 ${eq} name)
  math(EXPR from "${eq} + 1")
  string(SUBSTRING "${pair}" ${from} -1 source)
  if(EXISTS ${source})
    file(READ ${source} content)
    # Bare imports ("preact") resolve beside it: no import map, so no inline script.
    string(REPLACE "from\"preact\"" "from\"./preact.js\"" content "${content}")
  else()
    set(content "throw new Error('flowd console: ${name} is missing; run scripts/install-deps (npm ci in service/console) and rebuild');\n")
  endif()
  # Raw strings are split every 16 KiB: compilers limit one literal's length.
  string(LENGTH "${content}" length)
  set(pieces "")
  set(at 0)
  while(at LESS length)
    string(SUBSTRING "${content}" ${at} 16000 piece)
    string(APPEND pieces "R\"flowd_embed(${piece})flowd_embed\"\n")
    math(EXPR at "${at} + 16000")
  endwhile()
  if(pieces STREQUAL "")
    set(pieces "\"\"")
  endif()
  string(APPEND body "const char k${i}[] = ${pieces};\n")
  string(APPEND entries "    {\"/${name}\", std::string_view(k${i}, sizeof(k${i}) - 1)},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "}  // namespace\n"
  "const std::map<std::string, std::string_view>& files() {\n"
  "  static const std::map<std::string, std::string_view> all{\n${entries}  };\n"
  "  return all;\n}\n"
  "}  // namespace flowd::console\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
