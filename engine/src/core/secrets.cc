#include "flowd/engine/secrets.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace flowd {

std::string EnvironmentSecrets::variable_name(std::string_view name) {
  std::string out = "FLOWD_SECRET_";
  for (char c : name) {
    if (c == '.' || c == '-') c = '_';
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

std::optional<std::string> EnvironmentSecrets::lookup(std::string_view name) const {
  const char* value = std::getenv(variable_name(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> DirectorySecrets::lookup(std::string_view name) const {
  // Names are checked when definitions load ([A-Za-z_][A-Za-z0-9_.-]*), so no '/' and no "..":
  // check again, the name may come from elsewhere.
  if (name.empty() || name.find('/') != std::string_view::npos || name.front() == '.')
    return std::nullopt;
  std::ifstream in(dir_ / std::string(name), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  std::string value = text.str();
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

std::shared_ptr<StaticSecrets> StaticSecrets::from_json(const Json& object) {
  std::map<std::string, std::string, std::less<>> values;
  if (object.is_object())
    for (const auto& [k, v] : object.items())
      if (v.is_string()) values.emplace(k, v.get<std::string>());
  return std::make_shared<StaticSecrets>(std::move(values));
}

std::optional<std::string> StaticSecrets::lookup(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> SecretChain::lookup(std::string_view name) const {
  for (const auto& p : providers_)
    if (auto v = p->lookup(name)) return v;
  return std::nullopt;
}

std::string SecretChain::describe() const {
  std::string out;
  for (const auto& p : providers_) out += (out.empty() ? "" : " or ") + p->describe();
  return out.empty() ? "no secret provider" : out;
}

namespace {

std::vector<std::string> longest_first(const std::vector<std::string>& values) {
  std::vector<std::string> sorted;
  for (const auto& v : values)
    if (!v.empty()) sorted.push_back(v);
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return sorted;
}

std::string mask_sorted(std::string text, const std::vector<std::string>& sorted) {
  for (const auto& v : sorted) {
    std::size_t at = 0;
    while ((at = text.find(v, at)) != std::string::npos) {
      text.replace(at, v.size(), kMask);
      at += kMask.size();
    }
  }
  return text;
}

void mask_json_sorted(Json& value, const std::vector<std::string>& sorted) {
  if (value.is_string()) {
    auto& s = value.get_ref<std::string&>();
    for (const auto& v : sorted)
      if (s.find(v) != std::string::npos) {
        s = mask_sorted(std::move(s), sorted);
        break;
      }
  } else if (value.is_array()) {
    for (auto& item : value) mask_json_sorted(item, sorted);
  } else if (value.is_object()) {
    bool keys = false;
    for (auto& [k, v] : value.items()) {
      mask_json_sorted(v, sorted);
      for (const auto& s : sorted) keys = keys || k.find(s) != std::string::npos;
    }
    if (keys) {  // a key holding a value: rebuild the object with masked keys
      Json masked = Json::object();
      for (auto& [k, v] : value.items()) masked[mask_sorted(k, sorted)] = std::move(v);
      value = std::move(masked);
    }
  }
}

}  // namespace

std::string mask_values(std::string text, const std::vector<std::string>& values) {
  return mask_sorted(std::move(text), longest_first(values));
}

void mask_values(Json& value, const std::vector<std::string>& values) {
  if (values.empty()) return;
  mask_json_sorted(value, longest_first(values));
}

bool contains_any(std::string_view text, const std::vector<std::string>& values) {
  for (const auto& v : values)
    if (!v.empty() && text.find(v) != std::string_view::npos) return true;
  return false;
}

void SecretMasker::remember(const std::string& value) {
  if (value.empty()) return;
  std::lock_guard lock(mutex_);
  if (std::find(values_.begin(), values_.end(), value) != values_.end()) return;
  values_.push_back(value);
  std::sort(values_.begin(), values_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string SecretMasker::mask(std::string text) const {
  std::lock_guard lock(mutex_);
  return mask_sorted(std::move(text), values_);
}

void SecretMasker::mask(Json& value) const {
  std::lock_guard lock(mutex_);
  if (!values_.empty()) mask_json_sorted(value, values_);
}

bool SecretMasker::empty() const {
  std::lock_guard lock(mutex_);
  return values_.empty();
}

}  // namespace flowd
