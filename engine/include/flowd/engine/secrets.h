#pragma once
// Secrets: values that steps need (API keys, webhook signing keys) and that must never be stored.
// A definition names them as `{{ secrets.NAME }}` in a step's `with`; the engine resolves them
// from a SecretProvider only when the step runs, appends SecretAccessed {step, name} (no value),
// and masks every value it resolved ("***") in whatever it appends afterwards.
//
// SecretProvider is the seam: environment variables, a folder of files (Kubernetes mounts), a
// fixed map (tests), a chain of them; a Vault provider would be one more implementation.
// Providers are immutable after construction and thread-safe. Lookups are cheap (getenv, reading
// one small file) and are made on the engine's thread.
//
// SecretMasker remembers every value resolved in this process so that log writers can mask them
// too (service/flowd/app/logging.cc). Thread-safe.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "flowd/engine/json.h"

namespace flowd {

inline constexpr std::string_view kMask = "***";

class SecretProvider {
 public:
  virtual ~SecretProvider() = default;
  // The value, or nullopt when this provider has no secret of that name.
  virtual std::optional<std::string> lookup(std::string_view name) const = 0;
  // Where it looks, for messages ("FLOWD_SECRET_<NAME>", "files in /run/secrets").
  virtual std::string describe() const = 0;
};

// FLOWD_SECRET_<NAME>: the name upper-cased, '.' and '-' written '_'.
class EnvironmentSecrets final : public SecretProvider {
 public:
  std::optional<std::string> lookup(std::string_view name) const override;
  std::string describe() const override { return "environment variable FLOWD_SECRET_<NAME>"; }
  static std::string variable_name(std::string_view name);
};

// One file per secret in `dir`, named as the secret; one trailing newline is dropped.
class DirectorySecrets final : public SecretProvider {
 public:
  explicit DirectorySecrets(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::optional<std::string> lookup(std::string_view name) const override;
  std::string describe() const override { return "a file <NAME> in " + dir_.string(); }

 private:
  std::filesystem::path dir_;
};

// A fixed map of names to values (tests, `flowctl run --local`).
class StaticSecrets final : public SecretProvider {
 public:
  explicit StaticSecrets(std::map<std::string, std::string, std::less<>> values)
      : values_(std::move(values)) {}
  // The string members of a JSON object.
  static std::shared_ptr<StaticSecrets> from_json(const Json& object);
  std::optional<std::string> lookup(std::string_view name) const override;
  std::string describe() const override { return "the configured secrets"; }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// Asks each provider in order; the first that has the name answers.
class SecretChain final : public SecretProvider {
 public:
  explicit SecretChain(std::vector<std::shared_ptr<const SecretProvider>> providers)
      : providers_(std::move(providers)) {}
  std::optional<std::string> lookup(std::string_view name) const override;
  std::string describe() const override;

 private:
  std::vector<std::shared_ptr<const SecretProvider>> providers_;
};

// Replaces every occurrence of each value in `text` by "***" (longest values first, so a value
// that contains another is masked whole). Empty values are ignored.
std::string mask_values(std::string text, const std::vector<std::string>& values);
// The same on every string (and object key) of a JSON value, in place.
void mask_values(Json& value, const std::vector<std::string>& values);
bool contains_any(std::string_view text, const std::vector<std::string>& values);

class SecretMasker {
 public:
  void remember(const std::string& value);
  std::string mask(std::string text) const;
  void mask(Json& value) const;
  bool empty() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> values_;  // GUARDED_BY(mutex_), longest first
};

}  // namespace flowd
