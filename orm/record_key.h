// Keys of records: the primary key and index keys, read from a record's fields.
#pragma once

#include <capnp/dynamic.h>

#include <span>
#include <string>

#include "engine/key_codec.h"
#include "orm/table_schema.h"

namespace capdb::orm {

// The value at `path` in `record`, as a key value. An unset Text, Data or struct on the way, or a
// union member that is not the active one, reads as NULL.
engine::KeyValue keyValueAt(capnp::DynamicStruct::Reader record, const FieldPath& path);

// Appends the values at `paths` to `key`.
void appendKey(engine::KeyEncoder& key, capnp::DynamicStruct::Reader record,
               std::span<const FieldPath> paths);

}  // namespace capdb::orm
