// The names capdb gives things on disk are part of the file format (docs/format.md): each is
// checked here against what the format promises, so that none changes by accident.
#include "orm/disk_names.h"

#include <gtest/gtest.h>

#include "engine/key_codec.h"

namespace capdb::orm {
namespace {

using engine::KeyEncoder;

TEST(DiskNames, Databases) {
  EXPECT_EQ(kCatalogDbName, "capdb:catalog");
  EXPECT_EQ(tableDbName("people"), "table:people");
  EXPECT_EQ(indexDbName("people", "by_city"), "index:people:by_city");
  EXPECT_EQ(checkDbName("people", "by_email"), "capdb:check:people:by_email");
  EXPECT_EQ(rekeyDbName("people"), "capdb:rekey:people");
}

TEST(DiskNames, CatalogKeys) {
  EXPECT_EQ(catalogFormatKey(), KeyEncoder().text("format").bytes());
  EXPECT_EQ(catalogGenerationKey(), KeyEncoder().text("generation").bytes());
  EXPECT_EQ(catalogTableKey("people"), KeyEncoder().text("table").text("people").bytes());
  EXPECT_EQ(catalogSchemaKey("people", 3),
            KeyEncoder().text("schema").text("people").uint64(3).bytes());
}

TEST(DiskNames, PrefixesStartTheirKeys) {
  EXPECT_TRUE(catalogTableKey("people").starts_with(catalogTablePrefix()));
  EXPECT_TRUE(catalogSchemaKey("people", 3).starts_with(catalogSchemaPrefix("people")));
  // One table's schema prefix does not start another's keys ("people" and "people2").
  EXPECT_FALSE(catalogSchemaKey("people2", 1).starts_with(catalogSchemaPrefix("people")));
}

}  // namespace
}  // namespace capdb::orm
