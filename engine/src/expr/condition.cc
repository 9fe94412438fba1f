// Condition (expr.h): a small safe expression language parsed into a tree once and evaluated
// against a Scope. Templates are leaves that stand for values; nothing is ever re-parsed from data.
#include <charconv>
#include <cmath>
#include <utility>

#include "expr/reference.h"

namespace flowd {

// One node of a parsed condition. And/Or are n-ary so a long `a && b && ...` chain does not make
// a deep tree; every other nesting counts towards expr::kMaxDepth at parse time.
struct Condition::Node {
  enum class Kind { kLiteral, kReference, kNot, kAnd, kOr, kCompare, kIn, kList };
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };

  Kind kind = Kind::kLiteral;
  Op op = Op::kEq;
  std::size_t offset = 0;     // byte offset of the operator / literal in the source, for messages
  std::size_t reference = 0;  // index into Condition::references_ (kReference)
  Json literal;               // kLiteral
  std::vector<Node> children;
};

namespace {

using Node = Condition::Node;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_word_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_word_char(char c) {
  return is_word_start(c) || is_digit(c);
}

std::string_view op_text(Node::Op op) {
  switch (op) {
    case Node::Op::kEq:
      return "==";
    case Node::Op::kNe:
      return "!=";
    case Node::Op::kLt:
      return "<";
    case Node::Op::kLe:
      return "<=";
    case Node::Op::kGt:
      return ">";
    case Node::Op::kGe:
      return ">=";
  }
  return "?";
}

// Recursive descent over the source text; see expr.h for the grammar's precedence:
//   or := and ('||' and)*   and := cmp ('&&' cmp)*   cmp := unary (op unary)?
//   unary := '!' unary | primary   primary := literal | template | '(' or ')' | '[' list ']'
class Parser {
 public:
  Parser(std::string_view source, std::vector<Reference>& references)
      : s_(source), references_(references) {}

  Result<Node> parse() {
    skip();
    if (i_ >= s_.size()) return expr::syntax_error(i_, "expected an expression, found end of text");
    auto root = parse_or(0, "");
    if (!root) return root;
    skip();
    if (i_ < s_.size()) return trailing_error();
    return root;
  }

 private:
  void skip() {
    while (i_ < s_.size() && is_space(s_[i_])) ++i_;
  }
  bool at(std::string_view token) const { return s_.compare(i_, token.size(), token) == 0; }
  std::string_view word_at(std::size_t i) const {
    std::size_t j = i;
    if (j < s_.size() && is_word_start(s_[j])) {
      while (j < s_.size() && is_word_char(s_[j])) ++j;
    }
    return s_.substr(i, j - i);
  }
  std::string found() const {
    if (i_ >= s_.size()) return "end of text";
    if (at("{{")) return "'{{'";
    std::string_view w = word_at(i_);
    if (!w.empty()) return "'" + std::string(w) + "'";
    return "'" + std::string(1, s_[i_]) + "'";
  }
  static std::string after_text(std::string_view after) {
    return after.empty() ? std::string() : " after '" + std::string(after) + "'";
  }

  tl::unexpected<Error> trailing_error() const {
    if (at("=") && !at("==")) return expr::syntax_error(i_, "unexpected '='; did you mean '=='?");
    if (at("&") && !at("&&")) return expr::syntax_error(i_, "unexpected '&'; did you mean '&&'?");
    if (at("|") && !at("||")) return expr::syntax_error(i_, "unexpected '|'; did you mean '||'?");
    return expr::syntax_error(i_, "expected an operator or end of text, found " + found());
  }

  Result<Node> parse_or(int depth, std::string_view after) {
    auto first = parse_and(depth, after);
    if (!first) return first;
    skip();
    if (!at("||")) return first;
    Node node;
    node.kind = Node::Kind::kOr;
    node.offset = i_;
    node.children.push_back(std::move(*first));
    while (at("||")) {
      i_ += 2;
      auto next = parse_and(depth, "||");
      if (!next) return next;
      node.children.push_back(std::move(*next));
      skip();
    }
    return node;
  }

  Result<Node> parse_and(int depth, std::string_view after) {
    auto first = parse_compare(depth, after);
    if (!first) return first;
    skip();
    if (!at("&&")) return first;
    Node node;
    node.kind = Node::Kind::kAnd;
    node.offset = i_;
    node.children.push_back(std::move(*first));
    while (at("&&")) {
      i_ += 2;
      auto next = parse_compare(depth, "&&");
      if (!next) return next;
      node.children.push_back(std::move(*next));
      skip();
    }
    return node;
  }

  // Reads a comparison operator or `in` at i_; returns its length (0 when there is none).
  std::size_t compare_op(Node& node) const {
    node.kind = Node::Kind::kCompare;
    if (at("==")) return node.op = Node::Op::kEq, 2;
    if (at("!=")) return node.op = Node::Op::kNe, 2;
    if (at("<=")) return node.op = Node::Op::kLe, 2;
    if (at(">=")) return node.op = Node::Op::kGe, 2;
    if (at("<")) return node.op = Node::Op::kLt, 1;
    if (at(">")) return node.op = Node::Op::kGt, 1;
    if (word_at(i_) == "in") return node.kind = Node::Kind::kIn, 2;
    return 0;
  }

  Result<Node> parse_compare(int depth, std::string_view after) {
    auto left = parse_unary(depth, after);
    if (!left) return left;
    skip();
    Node node;
    const std::size_t len = compare_op(node);
    if (len == 0) return left;
    node.offset = i_;
    const std::string op(s_.substr(i_, len));
    i_ += len;
    auto right = parse_unary(depth, op);
    if (!right) return right;
    node.children.push_back(std::move(*left));
    node.children.push_back(std::move(*right));
    skip();
    Node again;
    if (compare_op(again) != 0) {
      return expr::syntax_error(i_, "comparisons can't be chained; use parentheses and '&&'");
    }
    return node;
  }

  Result<Node> parse_unary(int depth, std::string_view after) {
    skip();
    if (at("!") && !at("!=")) {
      if (depth + 1 > expr::kMaxDepth) return too_deep();
      Node node;
      node.kind = Node::Kind::kNot;
      node.offset = i_;
      ++i_;
      auto operand = parse_unary(depth + 1, "!");
      if (!operand) return operand;
      node.children.push_back(std::move(*operand));
      return node;
    }
    return parse_primary(depth, after);
  }

  tl::unexpected<Error> too_deep() const {
    return expr::syntax_error(
        i_, "expression nested deeper than " + std::to_string(expr::kMaxDepth) + " levels");
  }

  Result<Node> parse_primary(int depth, std::string_view after) {
    skip();
    Node node;
    node.offset = i_;
    if (i_ >= s_.size()) {
      return expr::syntax_error(i_,
                                "expected an operand" + after_text(after) + ", found end of text");
    }
    const char c = s_[i_];
    if (at("{{")) {
      auto parsed = expr::parse_reference(s_, i_);
      if (!parsed) return tl::unexpected(std::move(parsed.error()));
      node.kind = Node::Kind::kReference;
      node.reference = references_.size();
      references_.push_back(std::move(parsed->reference));
      i_ = parsed->end;
      return node;
    }
    if (c == '(') {
      if (depth + 1 > expr::kMaxDepth) return too_deep();
      const std::size_t open = i_;
      ++i_;
      auto inner = parse_or(depth + 1, "(");
      if (!inner) return inner;
      skip();
      if (!at(")")) {
        return expr::syntax_error(i_, "expected ')' to close the '(' at column " +
                                          std::to_string(open + 1) + ", found " + found());
      }
      ++i_;
      return inner;
    }
    if (c == '[') return parse_list(depth);
    if (c == '\'' || c == '"') {
      auto str = expr::parse_quoted(s_, i_);
      if (!str) return tl::unexpected(std::move(str.error()));
      node.literal = std::move(*str);
      return node;
    }
    if (is_digit(c) || (c == '-' && i_ + 1 < s_.size() && is_digit(s_[i_ + 1]))) {
      return parse_number();
    }
    const std::string_view word = word_at(i_);
    if (word == "true" || word == "false" || word == "null") {
      node.literal = word == "null" ? Json() : Json(word == "true");
      i_ += word.size();
      return node;
    }
    if (!word.empty() && word != "in") {
      return expr::syntax_error(i_, "unexpected '" + std::string(word) +
                                        "': values are literals or templates like {{ " +
                                        std::string(word) + " }}");
    }
    return expr::syntax_error(i_, "expected an operand" + after_text(after) + ", found " + found());
  }

  Result<Node> parse_list(int depth) {
    if (depth + 1 > expr::kMaxDepth) return too_deep();
    Node node;
    node.kind = Node::Kind::kList;
    node.offset = i_;
    const std::size_t open = i_;
    ++i_;
    skip();
    if (at("]")) {
      ++i_;
      node.kind = Node::Kind::kLiteral;
      node.literal = Json::array();
      return node;
    }
    bool all_literal = true;
    std::string_view after = "[";
    while (true) {
      auto element = parse_or(depth + 1, after);
      if (!element) return element;
      all_literal = all_literal && element->kind == Node::Kind::kLiteral;
      node.children.push_back(std::move(*element));
      skip();
      if (at(",")) {
        ++i_;
        after = ",";
        continue;
      }
      if (at("]")) {
        ++i_;
        break;
      }
      return expr::syntax_error(i_, "expected ',' or ']' in the list opened at column " +
                                        std::to_string(open + 1) + ", found " + found());
    }
    if (all_literal) {  // fold a constant list into one literal
      Json array = Json::array();
      for (Node& child : node.children) array.push_back(std::move(child.literal));
      node.children.clear();
      node.kind = Node::Kind::kLiteral;
      node.literal = std::move(array);
    }
    return node;
  }

  Result<Node> parse_number() {
    Node node;
    node.offset = i_;
    const std::size_t begin = i_;
    if (s_[i_] == '-') ++i_;
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    bool is_float = false;
    if (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) {
      is_float = true;
      ++i_;
      while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      std::size_t j = i_ + 1;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
      if (j < s_.size() && is_digit(s_[j])) {
        is_float = true;
        i_ = j;
        while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
      }
    }
    if (i_ < s_.size() && (is_word_char(s_[i_]) || s_[i_] == '.')) {
      return expr::syntax_error(i_, "unexpected '" + std::string(1, s_[i_]) + "' in a number");
    }
    const char* first = s_.data() + begin;
    const char* last = s_.data() + i_;
    if (!is_float) {
      std::int64_t v = 0;
      if (std::from_chars(first, last, v).ec == std::errc()) {
        node.literal = v;
        return node;
      }
      std::uint64_t u = 0;  // beyond int64 but within uint64: stays exact
      if (std::from_chars(first, last, u).ec == std::errc()) {
        node.literal = u;
        return node;
      }
    }
    double d = 0;
    auto r = std::from_chars(first, last, d);
    if (r.ec != std::errc() || r.ptr != last || !std::isfinite(d)) {
      return expr::syntax_error(begin, "number out of range");
    }
    node.literal = d;
    return node;
  }

  std::string_view s_;
  std::vector<Reference>& references_;
  std::size_t i_ = 0;
};

// An evaluated operand: borrowed from the scope or the tree when possible, owned otherwise.
struct Value {
  const Json* ref = nullptr;
  Json own;
  const Json& get() const { return ref != nullptr ? *ref : own; }
};

Value owned(Json j) {
  Value v;
  v.own = std::move(j);
  return v;
}

bool is_integer(const Json& j) {
  return j.is_number_integer();
}  // signed or unsigned

// -1, 0, 1 for two numbers, exact for integers of either signedness.
int compare_numbers(const Json& a, const Json& b) {
  if (is_integer(a) && is_integer(b)) {
    const bool au = a.is_number_unsigned();
    const bool bu = b.is_number_unsigned();
    if (au == bu) {
      if (au) {
        auto x = a.get<std::uint64_t>(), y = b.get<std::uint64_t>();
        return x < y ? -1 : (x > y ? 1 : 0);
      }
      auto x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    // One signed, one unsigned: a negative signed value is the smaller.
    const std::int64_t s = au ? b.get<std::int64_t>() : a.get<std::int64_t>();
    const std::uint64_t u = au ? a.get<std::uint64_t>() : b.get<std::uint64_t>();
    int r = (s < 0 || static_cast<std::uint64_t>(s) < u)
                ? -1
                : (static_cast<std::uint64_t>(s) == u ? 0 : 1);
    return au ? -r : r;
  }
  const double x = a.get<double>(), y = b.get<double>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

// JSON equality with numbers compared by value (1 == 1.0).
bool json_equal(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  return a == b;
}

tl::unexpected<Error> type_error(const Node& node, std::string_view op, const Json& a,
                                 const Json& b, std::string_view needs) {
  return fail(ErrorCode::kInvalidInput, "column " + std::to_string(node.offset + 1) + ": '" +
                                            std::string(op) + "' " + std::string(needs) + ", got " +
                                            std::string(expr::type_name(a)) + " and " +
                                            std::string(expr::type_name(b)));
}

Result<Value> eval(const Node& node, const std::vector<Reference>& refs, const Scope& scope) {
  switch (node.kind) {
    case Node::Kind::kLiteral: {
      Value v;
      v.ref = &node.literal;
      return v;
    }
    case Node::Kind::kReference: {
      auto r = expr::resolve(refs[node.reference], scope, MissingPolicy::kError);
      if (!r) return tl::unexpected(std::move(r.error()));
      Value v;
      v.ref = *r;
      return v;
    }
    case Node::Kind::kNot: {
      auto v = eval(node.children.front(), refs, scope);
      if (!v) return v;
      return owned(Json(!truthy(v->get())));
    }
    case Node::Kind::kAnd:
    case Node::Kind::kOr: {
      const bool is_or = node.kind == Node::Kind::kOr;
      for (const Node& child : node.children) {
        auto v = eval(child, refs, scope);
        if (!v) return v;
        if (truthy(v->get()) == is_or) return owned(Json(is_or));
      }
      return owned(Json(!is_or));
    }
    case Node::Kind::kList: {
      Json array = Json::array();
      for (const Node& child : node.children) {
        auto v = eval(child, refs, scope);
        if (!v) return v;
        array.push_back(v->ref != nullptr ? *v->ref : std::move(v->own));
      }
      return owned(std::move(array));
    }
    case Node::Kind::kCompare: {
      auto l = eval(node.children[0], refs, scope);
      if (!l) return l;
      auto r = eval(node.children[1], refs, scope);
      if (!r) return r;
      const Json& a = l->get();
      const Json& b = r->get();
      if (node.op == Node::Op::kEq) return owned(Json(json_equal(a, b)));
      if (node.op == Node::Op::kNe) return owned(Json(!json_equal(a, b)));
      int c = 0;
      if (a.is_number() && b.is_number()) {
        c = compare_numbers(a, b);
      } else if (a.is_string() && b.is_string()) {
        c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      } else {
        return type_error(node, op_text(node.op), a, b, "compares two numbers or two strings");
      }
      bool result = false;
      switch (node.op) {
        case Node::Op::kLt:
          result = c < 0;
          break;
        case Node::Op::kLe:
          result = c <= 0;
          break;
        case Node::Op::kGt:
          result = c > 0;
          break;
        default:
          result = c >= 0;
          break;
      }
      return owned(Json(result));
    }
    case Node::Kind::kIn: {
      auto l = eval(node.children[0], refs, scope);
      if (!l) return l;
      auto r = eval(node.children[1], refs, scope);
      if (!r) return r;
      const Json& a = l->get();
      const Json& b = r->get();
      if (b.is_array()) {
        for (const Json& element : b) {
          if (json_equal(a, element)) return owned(Json(true));
        }
        return owned(Json(false));
      }
      if (b.is_string() && a.is_string()) {
        return owned(Json(b.get_ref<const std::string&>().find(a.get_ref<const std::string&>()) !=
                          std::string::npos));
      }
      if (b.is_object() && a.is_string()) {
        return owned(Json(b.contains(a.get_ref<const std::string&>())));
      }
      return type_error(node, "in", a, b,
                        "needs an array, a string in a string, or a string key in an object");
    }
  }
  return fail(ErrorCode::kInternal, "unknown condition node");
}

}  // namespace

Result<Condition> Condition::parse(std::string_view text) {
  Condition c;
  c.text_ = std::string(text);
  Parser parser(c.text_, c.references_);
  auto root = parser.parse();
  if (!root) return tl::unexpected(std::move(root.error()));
  c.root_ = std::make_shared<const Node>(std::move(*root));
  return c;
}

Result<bool> Condition::evaluate(const Scope& scope) const {
  if (!root_) return fail(ErrorCode::kInternal, "condition was not parsed");
  auto v = eval(*root_, references_, scope);
  if (!v) return tl::unexpected(std::move(v.error()));
  return truthy(v->get());
}

Result<Json> Condition::value(const Scope& scope) const {
  if (!root_) return fail(ErrorCode::kInternal, "condition was not parsed");
  auto v = eval(*root_, references_, scope);
  if (!v) return tl::unexpected(std::move(v.error()));
  if (v->ref != nullptr) return *v->ref;
  return std::move(v->own);
}

bool truthy(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::boolean:
      return value.get<bool>();
    case Json::value_t::number_integer:
      return value.get<std::int64_t>() != 0;
    case Json::value_t::number_unsigned:
      return value.get<std::uint64_t>() != 0;
    case Json::value_t::number_float:
      return value.get<double>() != 0.0;
    case Json::value_t::string:
      return !value.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      return !value.empty();
    default:
      return true;
  }
}

}  // namespace flowd
