#include "cli/output.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "cli/fail.h"

namespace capdb::cli {

Format parseFormat(std::string_view name) {
  if (name == "table") return Format::Table;
  if (name == "csv") return Format::Csv;
  if (name == "json") return Format::Json;
  if (name == "jsonl") return Format::Jsonl;
  fail(ErrorCode::InvalidArgument, "unknown format '{}' (table, csv, json or jsonl)", name);
}

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string jsonValue(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return "null";
    case Value::Type::Integer: return std::to_string(v.integer());
    case Value::Type::Real: {
      double d = v.real();
      if (!std::isfinite(d)) return "null";
      std::string text = fmt::format("{}", d);
      return text;
    }
    case Value::Type::Text: return jsonString(v.text());
    case Value::Type::Blob: {
      std::string out = "[";
      for (size_t i = 0; i < v.blob().size(); ++i) {
        out += (i ? "," : "") + std::to_string(static_cast<unsigned char>(v.blob()[i]));
      }
      return out + "]";
    }
  }
  return "null";
}

std::string cellText(const Value& v) {
  if (v.isNull()) return "NULL";
  if (v.type() == Value::Type::Blob) return v.toSql();
  return v.toText();
}

std::string csvField(const Value& v) {
  if (v.isNull()) return "";
  std::string s = v.type() == Value::Type::Blob ? v.toSql() : v.toText();
  // Text that reads like a BLOB literal is quoted, so that importing it gives the text back.
  bool quote = s.empty() || s.find_first_of(",\"\r\n") != std::string::npos || s.front() == ' ' ||
               s.back() == ' ' ||
               (v.type() == Value::Type::Text && s.size() >= 3 && (s[0] == 'x' || s[0] == 'X') && s[1] == '\'');
  if (!quote) return s;
  std::string out = "\"";
  for (char c : s) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

namespace {

void printTable(const ResultSet& rs, std::ostream& out) {
  std::vector<size_t> width(rs.columns.size());
  for (size_t c = 0; c < rs.columns.size(); ++c) width[c] = rs.columns[c].size();
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rs.rows) {
    cells.emplace_back();
    for (size_t c = 0; c < row.size(); ++c) {
      cells.back().push_back(cellText(row[c]));
      width[c] = std::max(width[c], cells.back().back().size());
    }
  }
  auto line = [&](const std::vector<std::string>& items) {
    std::string s;
    for (size_t c = 0; c < items.size(); ++c) {
      s += (c ? " | " : "") + items[c] + std::string(width[c] - std::min(width[c], items[c].size()), ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << '\n';
  };
  line(rs.columns);
  std::string rule;
  for (size_t c = 0; c < width.size(); ++c) rule += (c ? "-+-" : "") + std::string(width[c], '-');
  out << rule << '\n';
  for (const auto& r : cells) line(r);
  out << "(" << rs.rows.size() << (rs.rows.size() == 1 ? " row)" : " rows)") << '\n';
}

std::string jsonObject(const ResultSet& rs, Rows::Row row) {
  std::string s = "{";
  for (size_t c = 0; c < row.size(); ++c) {
    s += (c ? "," : "") + jsonString(rs.columns[c]) + ":" + jsonValue(row[c]);
  }
  return s + "}";
}

}  // namespace

void printResult(const ResultSet& rs, Format format, std::ostream& out) {
  switch (format) {
    case Format::Table: printTable(rs, out); return;
    case Format::Csv: {
      for (size_t c = 0; c < rs.columns.size(); ++c) out << (c ? "," : "") << csvField(Value(rs.columns[c]));
      out << '\n';
      for (const auto& row : rs.rows) {
        for (size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << csvField(row[c]);
        out << '\n';
      }
      return;
    }
    case Format::Json: {
      out << "[";
      for (size_t r = 0; r < rs.rows.size(); ++r) out << (r ? ",\n " : "") << jsonObject(rs, rs.rows[r]);
      out << "]\n";
      return;
    }
    case Format::Jsonl:
      for (const auto& row : rs.rows) out << jsonObject(rs, row) << '\n';
      return;
  }
}

void addParam(Params& params, std::string_view assignment) {
  size_t eq = assignment.find('=');
  require(eq != std::string_view::npos && eq > 0, ErrorCode::InvalidArgument,
                "--param {}: expected NAME=VALUE", assignment);
  std::string_view name = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Value v;
  std::string t(text);
  int64_t i = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
  char* end = nullptr;
  double d = t.empty() ? 0 : std::strtod(t.c_str(), &end);
  if (t == "NULL") {
    v = Value();
  } else if (!t.empty() && ec == std::errc() && ptr == t.data() + t.size()) {
    v = Value(i);
  } else if (!t.empty() && end == t.c_str() + t.size() &&
             t.find_first_not_of("0123456789+-.eE") == std::string::npos) {
    v = Value(d);
  } else if (t.size() >= 2 && t.front() == '\'' && t.back() == '\'') {
    v = Value(t.substr(1, t.size() - 2));
  } else {
    v = Value(t);
  }
  if (name.front() == ':') name.remove_prefix(1);
  if (name.front() == '?') name.remove_prefix(1);
  size_t position = 0;
  auto [p2, ec2] = std::from_chars(name.data(), name.data() + name.size(), position);
  if (ec2 == std::errc() && p2 == name.data() + name.size()) {
    require(position >= 1 && position <= 32766, ErrorCode::InvalidArgument,
                  "--param {}: a position is 1 to 32766", assignment);
    if (params.positional.size() < position) params.positional.resize(position);
    params.positional[position - 1] = std::move(v);
  } else {
    params.set(std::string(name), std::move(v));
  }
}

}  // namespace capdb::cli
