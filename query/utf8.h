// Walking SQL text by character. Text in capdb is UTF-8 by contract but never checked, so the
// walk has one rule for any bytes, SQLite's (SQLITE_SKIP_UTF8 and sqlite3Utf8Read): a byte of
// 0xC0 or more starts a character and takes every continuation byte (10xxxxxx) after it; any
// other byte, ASCII or a continuation byte with no lead byte before it, is a character by itself.
// The rule does not check what a lead byte announces, so a sequence cut short by the end of the
// text, an overlong form (C0 80) and a lead byte followed by more continuation bytes than it
// announces are each one character, as SQLite counts them. length(), substr(), trim()'s set and
// LIKE's _ all walk by it.
#pragma once

#include <cstddef>
#include <string_view>

namespace capdb::query {

// Whether c is a UTF-8 continuation byte (10xxxxxx).
inline bool isContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The index just past the character that starts at s[i]; requires i < s.size().
inline size_t nextChar(std::string_view s, size_t i) {
  if (static_cast<unsigned char>(s[i++]) >= 0xC0) {
    while (i < s.size() && isContinuationByte(s[i])) ++i;
  }
  return i;
}

// The number of characters in s.
inline size_t charCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i = nextChar(s, i)) ++n;
  return n;
}

}  // namespace capdb::query
