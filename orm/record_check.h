// RecordCheck: checks, ahead of any field access, that a decoded record's pointers match its
// schema (Text where Text is declared, a struct where a struct is), so that a damaged record is
// a Corruption error at read time and never an exception from some later getter.
//
// Built once per schema: the pointer fields of the struct and of its groups, with the union
// conditions under which each is present, flattened into a list; checking walks that list over
// capnp::AnyStruct without the dynamic API.
#pragma once

#include <capnp/any.h>
#include <capnp/schema.h>

#include <map>
#include <memory>
#include <vector>

namespace capdb::orm {

class RecordCheck {
 public:
  explicit RecordCheck(capnp::StructSchema root);
  RecordCheck(RecordCheck&&) noexcept;
  ~RecordCheck();

  // Throws kj::Exception when a pointer does not match the schema.
  void check(capnp::AnyStruct::Reader record) const;

 private:
  struct Node;
  Node* build(capnp::StructSchema schema);
  void checkNode(const Node& node, capnp::AnyStruct::Reader record) const;

  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<uint64_t, Node*> byId_;
  Node* root_ = nullptr;
};

}  // namespace capdb::orm
