# The test package_install (cmake/CapdbInstall.cmake), run as cmake -P with the -D variables below.
# It uses capdb the way an app outside the tree does:
#   1. installs the build tree into a temporary prefix (cmake --install --prefix) and checks what
#      landed there: the public headers and nothing internal, the libraries, the CMake package,
#      capdb.pc and the capdb tool;
#   2. configures examples/people as a project of its own against that prefix
#      (find_package(capdb CONFIG), capdb_add_schemas(), capdb::capdb), builds it and runs it;
#   3. compiles and runs a small program with nothing but `pkg-config --cflags --libs capdb`.
# Everything is written under CAPDB_WORK_DIR, in the build tree, which is removed at the end,
# whether the test passes or fails.
cmake_minimum_required(VERSION 3.25)

foreach(var CAPDB_SOURCE_DIR CAPDB_BINARY_DIR CAPDB_WORK_DIR CAPDB_GENERATOR CAPDB_CXX_COMPILER
    CAPDB_LIBDIR CAPDB_INCLUDEDIR CAPDB_BINDIR CAPDB_LIBRARY_FILES CAPDB_VERSION)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_test.cmake needs -D${var}=...")
  endif()
endforeach()
string(REPLACE "," ";" CAPDB_LIBRARY_FILES "${CAPDB_LIBRARY_FILES}")

set(work "${CAPDB_WORK_DIR}")
set(prefix "${work}/prefix")
set(app_build "${work}/people")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")
# The install goes to the prefix given, whatever the caller's environment says.
unset(ENV{DESTDIR})

function(fail message)
  file(REMOVE_RECURSE "${work}")
  message(FATAL_ERROR "${message}")
endfunction()

# Runs a command; fails the test with its output when it exits non-zero. Leaves the output in
# run_output.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    fail("${step} failed (${rc}): ${command}\n${out}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

function(expect_output step output)
  foreach(line IN LISTS ARGN)
    string(FIND "${output}" "${line}" at)
    if(at EQUAL -1)
      fail("${step}: expected \"${line}\" in its output:\n${output}")
    endif()
  endforeach()
endfunction()

set(config_args "")
if(CAPDB_CONFIG)
  set(config_args --config "${CAPDB_CONFIG}")
endif()

# ---- 1. install ----
run("cmake --install" "${CMAKE_COMMAND}" --install "${CAPDB_BINARY_DIR}" --prefix "${prefix}"
  ${config_args})

set(cmakedir "${prefix}/${CAPDB_LIBDIR}/cmake/capdb")
set(expected
  "${CAPDB_INCLUDEDIR}/capdb/capdb.h"
  "${CAPDB_INCLUDEDIR}/capdb/error.h"
  "${CAPDB_INCLUDEDIR}/capdb/annotations.capnp"
  "${CAPDB_INCLUDEDIR}/capdb/annotations.capnp.h"
  "${CAPDB_LIBDIR}/cmake/capdb/capdbConfig.cmake"
  "${CAPDB_LIBDIR}/cmake/capdb/capdbConfigVersion.cmake"
  "${CAPDB_LIBDIR}/cmake/capdb/capdbTargets.cmake"
  "${CAPDB_LIBDIR}/cmake/capdb/CapdbSchemas.cmake"
  "${CAPDB_LIBDIR}/pkgconfig/capdb.pc")
foreach(file IN LISTS CAPDB_LIBRARY_FILES)
  list(APPEND expected "${CAPDB_LIBDIR}/${file}")
endforeach()
if(CAPDB_HAS_CLI)
  list(APPEND expected "${CAPDB_BINDIR}/capdb")
endif()
foreach(file IN LISTS expected)
  if(NOT EXISTS "${prefix}/${file}")
    fail("cmake --install did not install ${file}")
  endif()
endforeach()
# The public headers only: an installed header that includes an internal one could not compile.
file(GLOB_RECURSE headers RELATIVE "${prefix}/${CAPDB_INCLUDEDIR}" "${prefix}/${CAPDB_INCLUDEDIR}/*")
foreach(header IN LISTS headers)
  if(NOT header MATCHES "^capdb/[^/]+\\.(h|capnp)$")
    fail("cmake --install installed ${CAPDB_INCLUDEDIR}/${header}, which is not public")
  endif()
endforeach()

if(CAPDB_HAS_CLI)
  run("capdb --help" "${prefix}/${CAPDB_BINDIR}/capdb" --help)
  expect_output("capdb --help" "${run_output}" "upgrade")
endif()

# ---- 2. examples/people, a project of its own, against the installed package ----
set(flags_args "")
if(CAPDB_EXTRA_FLAGS)
  set(flags_args "-DCMAKE_C_FLAGS=${CAPDB_EXTRA_FLAGS}" "-DCMAKE_CXX_FLAGS=${CAPDB_EXTRA_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${CAPDB_EXTRA_FLAGS}")
endif()
set(generator_args -G "${CAPDB_GENERATOR}")
if(CAPDB_MAKE_PROGRAM)
  list(APPEND generator_args "-DCMAKE_MAKE_PROGRAM=${CAPDB_MAKE_PROGRAM}")
endif()
if(CAPDB_C_COMPILER)
  list(APPEND generator_args "-DCMAKE_C_COMPILER=${CAPDB_C_COMPILER}")
endif()
run("configuring examples/people" "${CMAKE_COMMAND}" -S "${CAPDB_SOURCE_DIR}/examples/people"
  -B "${app_build}" ${generator_args} "-DCMAKE_CXX_COMPILER=${CAPDB_CXX_COMPILER}"
  "-DCMAKE_BUILD_TYPE=${CAPDB_CONFIG}" "-DCMAKE_PREFIX_PATH=${prefix}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${flags_args})
# The package found must be the one just installed, not one elsewhere on the system.
file(STRINGS "${app_build}/CMakeCache.txt" found_dir REGEX "^capdb_DIR:")
string(REGEX REPLACE "^capdb_DIR:[A-Z]+=" "" found_dir "${found_dir}")
file(REAL_PATH "${found_dir}" found_dir)
file(REAL_PATH "${cmakedir}" cmakedir_real)
if(NOT found_dir STREQUAL cmakedir_real)
  fail("examples/people found capdb in ${found_dir}, not in ${cmakedir_real}")
endif()

run("building examples/people" "${CMAKE_COMMAND}" --build "${app_build}" --parallel 1
  ${config_args})
set(people "${app_build}/people")
if(NOT EXISTS "${people}" AND CAPDB_CONFIG)
  set(people "${app_build}/${CAPDB_CONFIG}/people")  # multi-config generators
endif()
run("people" "${people}" "${work}/people.capdb")
expect_output("people" "${run_output}"
  "inserted 4 people; Ada has id 1"
  "Ada had a birthday: 37"
  "after removing Ada: 3 people, Ada gone")

# ---- 3. pkg-config ----
if(CAPDB_PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/${CAPDB_LIBDIR}/pkgconfig")
  run("pkg-config --modversion capdb" "${CAPDB_PKG_CONFIG}" --modversion capdb)
  string(STRIP "${run_output}" version)
  if(NOT version STREQUAL CAPDB_VERSION)
    fail("pkg-config says capdb ${version}, the build is ${CAPDB_VERSION}")
  endif()
  run("pkg-config --cflags --libs capdb" "${CAPDB_PKG_CONFIG}" --cflags --libs capdb)
  separate_arguments(pc_flags UNIX_COMMAND "${run_output}")
  separate_arguments(extra_flags UNIX_COMMAND "${CAPDB_EXTRA_FLAGS}")
  run("compiling with pkg-config's flags" "${CAPDB_CXX_COMPILER}" -std=c++20 ${extra_flags}
    "${CAPDB_SOURCE_DIR}/tests/package/pkg_config_main.cpp" -o "${work}/pkg_config_main"
    ${pc_flags})
  run("pkg_config_main" "${work}/pkg_config_main" "${work}")
  expect_output("pkg_config_main" "${run_output}" "refused: ")
else()
  message(STATUS "pkg-config not found: capdb.pc not checked")
endif()

file(REMOVE_RECURSE "${work}")
