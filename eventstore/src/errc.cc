#include "flowd/eventstore/errc.h"

namespace flowd::eventstore {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "flowd.eventstore"; }
  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::conflict:
        return "wrong expected version";
      case errc::duplicate:
        return "duplicate dedupe key";
      case errc::not_found:
        return "not found";
      case errc::schema_too_new:
        return "database schema is newer than this binary";
      case errc::schema_modified:
        return "an applied migration was modified";
      case errc::definition_conflict:
        return "definition version exists with different content";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::unavailable:
        return "database unavailable";
      case errc::unknown_outcome:
        return "outcome of the commit is unknown";
      case errc::shutting_down:
        return "event store is shutting down";
      case errc::database:
        return "database error";
    }
    return "unknown event store error";
  }
};

}  // namespace

const std::error_category& category() noexcept {
  static const Category instance;
  return instance;
}

std::error_code make_error_code(errc code) noexcept {
  return {static_cast<int>(code), category()};
}

bool StoreError::retryable() const {
  return is(errc::unavailable);
}

Error to_error(const StoreError& error) {
  if (error.code.category() != category()) {
    return Error::make(ErrorCode::kInternal, error.message);
  }
  switch (static_cast<errc>(error.code.value())) {
    case errc::not_found:
      return Error::make(ErrorCode::kNotFound, error.message);
    case errc::invalid_argument:
    case errc::duplicate:
    case errc::definition_conflict:
      return Error::make(ErrorCode::kInvalidInput, error.message);
    case errc::unavailable:
      return Error::make(ErrorCode::kExternal, error.message, true);
    case errc::shutting_down:
      return Error::make(ErrorCode::kCancelled, error.message);
    case errc::database:
    case errc::conflict:
    case errc::schema_too_new:
    case errc::schema_modified:
    case errc::unknown_outcome:
      return Error::make(ErrorCode::kInternal, error.message);
  }
  return Error::make(ErrorCode::kInternal, error.message);
}

}  // namespace flowd::eventstore
