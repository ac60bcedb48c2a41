# Installing capdb. `cmake --install build [--prefix DIR]` puts under the prefix:
#   include/capdb/           the public headers, annotations.capnp and its generated header
#   lib/                     the layer libraries (static)
#   lib/cmake/capdb/         the CMake package: capdbConfig.cmake (find_package(capdb CONFIG):
#                            capdb::capdb and capdb_add_schemas()), its version file, the targets
#   lib/pkgconfig/capdb.pc   for builds without CMake
#   bin/capdb                the command-line tool, when it is built
# `make package` builds a Debian package of the same files with CPack. The test package_install
# (tests/package/) installs into a temporary prefix and builds examples/people against it.
#
# The including file defines the layer libraries in CAPDB_LIBRARY_TARGETS, bottom-up (each
# links only the ones before it), and the INTERFACE target capdb that apps link.

# An app that adds capdb with add_subdirectory() does not install capdb with itself unless it
# asks to.
option(CAPDB_INSTALL "Generate capdb's install rules and package" ${PROJECT_IS_TOP_LEVEL})
if(NOT CAPDB_INSTALL)
  return()
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CAPDB_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/capdb)
set(CAPDB_PACKAGE_DIR ${PROJECT_BINARY_DIR}/package)

# ---- headers ----
# Only include/capdb/: the public headers include each other, Cap'n Proto, KJ and the standard
# library, nothing internal (README.md, Layout).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/capdb DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.capnp")
# The C++ generated for annotations.capnp, which code generated from an app's schema may include
# (#include "capdb/annotations.capnp.h"): found among the layer libraries' sources.
unset(CAPDB_ANNOTATIONS_HEADER)
foreach(target IN LISTS CAPDB_LIBRARY_TARGETS)
  get_target_property(sources ${target} SOURCES)
  list(FILTER sources INCLUDE REGEX "/capdb/annotations\\.capnp\\.h$")
  if(sources)
    list(GET sources 0 CAPDB_ANNOTATIONS_HEADER)
    break()
  endif()
endforeach()
if(NOT CAPDB_ANNOTATIONS_HEADER)
  message(FATAL_ERROR "No library in CAPDB_LIBRARY_TARGETS (${CAPDB_LIBRARY_TARGETS}) generates "
    "capdb/annotations.capnp.h with capdb_add_schemas()")
endif()
install(FILES ${CAPDB_ANNOTATIONS_HEADER} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/capdb)

# ---- libraries, the tool and the CMake package ----
install(TARGETS ${CAPDB_LIBRARY_TARGETS} capdb EXPORT capdbTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET capdb_cli)
  install(TARGETS capdb_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT capdbTargets NAMESPACE capdb:: DESTINATION ${CAPDB_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/capdbConfig.cmake.in
  ${CAPDB_PACKAGE_DIR}/capdbConfig.cmake
  INSTALL_DESTINATION ${CAPDB_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# Before 1.0 a minor version may change the API.
write_basic_package_version_file(${CAPDB_PACKAGE_DIR}/capdbConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CAPDB_PACKAGE_DIR}/capdbConfig.cmake ${CAPDB_PACKAGE_DIR}/capdbConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/CapdbSchemas.cmake
  DESTINATION ${CAPDB_INSTALL_CMAKEDIR})

# ---- pkg-config ----
# The prefix is found from the .pc file's own place, so the file is right wherever the tree is
# installed (cmake --install --prefix, DESTDIR, a package).
file(RELATIVE_PATH CAPDB_PC_PREFIX_FROM_PCDIR "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" CAPDB_PC_PREFIX_FROM_PCDIR "${CAPDB_PC_PREFIX_FROM_PCDIR}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(CAPDB_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(CAPDB_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
# Static libraries: an app links their dependencies itself, so they are Requires, not
# Requires.private. The layers go top-down, as a static link needs them.
set(CAPDB_PC_REQUIRES "capnp-json capnpc capnp kj lmdb fmt")
set(CAPDB_PC_LIBS "")
set(layers_top_down ${CAPDB_LIBRARY_TARGETS})
list(REVERSE layers_top_down)
foreach(target IN LISTS layers_top_down)
  string(APPEND CAPDB_PC_LIBS " -l$<TARGET_LINKER_FILE_BASE_NAME:${target}>")
endforeach()
string(STRIP "${CAPDB_PC_LIBS}" CAPDB_PC_LIBS)
configure_file(${PROJECT_SOURCE_DIR}/cmake/capdb.pc.in ${CAPDB_PACKAGE_DIR}/capdb.pc.in @ONLY)
file(GENERATE OUTPUT ${CAPDB_PACKAGE_DIR}/capdb.pc INPUT ${CAPDB_PACKAGE_DIR}/capdb.pc.in)
install(FILES ${CAPDB_PACKAGE_DIR}/capdb.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# ---- the Debian package: make package (cpack -G DEB in the build directory) ----
if(PROJECT_IS_TOP_LEVEL)
  set(CPACK_PACKAGE_NAME libcapdb-dev)
  set(CPACK_PACKAGE_VENDOR "capdb")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "embedded object database: Cap'n Proto records in LMDB (headers, static libraries, tool)")
  set(CAPDB_PACKAGE_MAINTAINER "capdb maintainers <maintainers@capdb.invalid>" CACHE STRING
    "The Maintainer field of the Debian package (a placeholder until someone publishes it)")
  set(CPACK_PACKAGE_CONTACT "${CAPDB_PACKAGE_MAINTAINER}")
  set(CPACK_GENERATOR DEB)
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  # Strips the capdb tool; CMake never strips static libraries, which keep their debug info.
  set(CPACK_STRIP_FILES ON)
  set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
  # What an app needs to build against the package; the capdb tool's shared libraries are found
  # by dpkg-shlibdeps.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "liblmdb-dev, libcapnp-dev, capnproto, libfmt-dev, pkg-config")
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  include(CPack)
endif()

# ---- the test: install into a temporary prefix, build examples/people against it, run it ----
if(CAPDB_BUILD_TESTS)
  find_program(CAPDB_PKG_CONFIG NAMES pkg-config pkgconf)
  set(library_files "")
  foreach(target IN LISTS CAPDB_LIBRARY_TARGETS)
    list(APPEND library_files "$<TARGET_LINKER_FILE_NAME:${target}>")
  endforeach()
  list(JOIN library_files "," library_files)
  set(sanitize_flags "")
  if(CAPDB_SANITIZE)
    set(sanitize_flags "-fsanitize=address,undefined")
  endif()
  add_test(NAME package_install COMMAND ${CMAKE_COMMAND}
    -DCAPDB_SOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DCAPDB_BINARY_DIR=${PROJECT_BINARY_DIR}
    -DCAPDB_WORK_DIR=${PROJECT_BINARY_DIR}/package-test
    -DCAPDB_CONFIG=$<CONFIG>
    -DCAPDB_GENERATOR=${CMAKE_GENERATOR}
    -DCAPDB_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}
    -DCAPDB_C_COMPILER=${CMAKE_C_COMPILER}
    -DCAPDB_CXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DCAPDB_EXTRA_FLAGS=${sanitize_flags}
    -DCAPDB_PKG_CONFIG=${CAPDB_PKG_CONFIG}
    -DCAPDB_HAS_CLI=$<TARGET_EXISTS:capdb_cli>
    -DCAPDB_LIBRARY_FILES=${library_files}
    -DCAPDB_LIBDIR=${CMAKE_INSTALL_LIBDIR}
    -DCAPDB_INCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}
    -DCAPDB_BINDIR=${CMAKE_INSTALL_BINDIR}
    -DCAPDB_VERSION=${PROJECT_VERSION}
    -P ${PROJECT_SOURCE_DIR}/tests/package/install_test.cmake)
  set_tests_properties(package_install PROPERTIES LABELS package TIMEOUT 600)
endif()
