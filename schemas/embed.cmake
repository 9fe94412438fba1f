# Writes OUT: a C++ file holding every schemas/*.json and schemas/migrations/*.sql as raw strings.
file(GLOB files RELATIVE ${DIR} ${DIR}/*.json ${DIR}/migrations/*.sql)
list(SORT files)
set(body "#include \"flowd/schemas/embedded.h\"\nnamespace flowd::schemas {\nnamespace {\n")
set(entries "")
set(i 0)
foreach(f ${files})
  file(READ ${DIR}/${f} content)
  string(APPEND body "const char k${i}[] = R\"flowd_embed(${content})flowd_embed\";\n")
  string(APPEND entries "    {\"${f}\", std::string_view(k${i}, sizeof(k${i}) - 1)},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "}  // namespace\n"
  "const std::map<std::string, std::string_view>& all() {\n"
  "  static const std::map<std::string, std::string_view> files{\n${entries}  };\n"
  "  return files;\n}\n"
  "std::string_view file(std::string_view p) {\n"
  "  auto it = all().find(std::string(p));\n"
  "  return it == all().end() ? std::string_view() : it->second;\n}\n"
  "}  // namespace flowd::schemas\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
