#pragma once
// A small strict JSON reader for file headers (safetensors): objects, arrays, strings (with escapes,
// \uXXXX as UTF-8), integers and other numbers, true, false, null. Every error names the source and
// the byte offset, offset by `base` (where the JSON starts in its file).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "printable.hpp"

namespace ctnn::io::json {

struct Member;

struct Value {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;             // a string's value, or a number as written
  std::vector<Value> items;     // array
  std::vector<Member> members;  // object, in file order
  std::size_t offset = 0;       // where it starts in the file

  const Value* find(std::string_view key) const;  // the member named key, or nullptr
};

// An object's member. A named struct rather than std::pair<std::string, Value>: a pair needs a
// complete Value, which Value's own member list cannot give it (Clang refuses; GCC lets it pass).
struct Member {
  std::string first;
  Value second;
};

inline const Value* Value::find(std::string_view key) const {
  for (const Member& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

class Parser {
public:
  Parser(std::string_view text, std::string source, std::size_t base) : s_(text), source_(std::move(source)), base_(base) {}

  Value parse() {
    Value v = value(0);
    skip();
    if (pos_ != s_.size()) fail("unexpected characters after the JSON value");
    return v;
  }

private:
  // A byte as a message shows it: 'x' when printable ASCII, else its value (0xa5).
  static std::string shown(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
    const char* hex = "0123456789abcdef";
    return std::string("0x") + hex[u >> 4] + hex[u & 0xF];
  }

  [[noreturn]] void fail(const std::string& what) const {
    ctnn::detail::fail(source_, ": the JSON header is malformed at byte offset ", base_ + pos_, ": ", what);
  }
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }

  Value value(int depth) {
    if (depth > 64) fail("nested too deeply");
    skip();
    if (pos_ >= s_.size()) fail("expected a value, found the end of the header");
    Value v;
    v.offset = base_ + pos_;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = Value::Kind::object;
      if (eat('}')) return v;
      do {
        skip();
        if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a member name (a string)");
        std::string key = string();
        for (const auto& m : v.members)
          if (m.first == key) fail("the member '" + detail::printable(key) + "' appears twice");
        expect(':');
        v.members.push_back(Member{std::move(key), value(depth + 1)});
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.kind = Value::Kind::array;
      if (eat(']')) return v;
      do v.items.push_back(value(depth + 1));
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Value::Kind::string;
      v.text = string();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Value::Kind::number;
      const std::size_t start = pos_;
      if (s_[pos_] == '-') ++pos_;
      while (pos_ < s_.size() && ((s_[pos_] >= '0' && s_[pos_] <= '9') || s_[pos_] == '.' || s_[pos_] == 'e' ||
                                  s_[pos_] == 'E' || s_[pos_] == '+' || s_[pos_] == '-'))
        ++pos_;
      v.text = std::string(s_.substr(start, pos_ - start));
    } else if (s_.substr(pos_, 4) == "true" || s_.substr(pos_, 5) == "false") {
      v.kind = Value::Kind::boolean;
      v.boolean = s_[pos_] == 't';
      pos_ += v.boolean ? 4 : 5;
    } else if (s_.substr(pos_, 4) == "null") {
      pos_ += 4;
    } else {
      fail("unexpected character " + shown(c));
    }
    return v;
  }

  std::string string() {
    ++pos_;  // the opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("a string is not terminated");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("a string ends inside an escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (pos_ + 4 > s_.size()) fail("a \\u escape needs four hex digits");
          unsigned cp = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= unsigned(h - 'A' + 10);
            else fail("a \\u escape needs four hex digits");
          }
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: fail("an unknown escape: a backslash, then " + shown(e));
      }
    }
  }

  std::string_view s_;
  std::string source_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

inline Value parse(std::string_view text, const std::string& source, std::size_t base = 0) {
  return Parser(text, source, base).parse();
}

// A JSON string literal for `s` (quotes and escapes).
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[(c >> 4) & 0xF];
      out += hex[c & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace ctnn::io::json
