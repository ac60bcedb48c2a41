# Checks every #include of the library against the layer order (README.md, Layout):
#   engine -> orm -> query -> migrate -> db -> cli
# - A layer's files include the public headers (capdb/...) and headers of their own layer or of
#   the layers below it; never a layer above.
# - cli/ is a shell over the public API: it includes capdb/... and cli/... only.
# - include/capdb/*.h include only capdb/..., Cap'n Proto and KJ (<capnp/...>, <kj/...>) and the
#   standard library.
# - engine/ knows bytes, not Cap'n Proto; only engine/ includes LMDB.
# Run as: cmake -DCAPDB_SOURCE_DIR=<repository> -P check_includes.cmake
# Fails (and lists every offending line) when a rule is broken.
cmake_minimum_required(VERSION 3.25)

set(layers engine orm query migrate db cli)
set(failures "")
set(checked 0)

function(rank_of name out)
  list(FIND layers "${name}" r)
  set(${out} ${r} PARENT_SCOPE)
endfunction()

macro(offend file line what)
  string(APPEND failures "  ${file}: #include ${line}: ${what}\n")
endmacro()

foreach(layer IN LISTS layers ITEMS include/capdb)
  file(GLOB_RECURSE files RELATIVE "${CAPDB_SOURCE_DIR}"
    "${CAPDB_SOURCE_DIR}/${layer}/*.h" "${CAPDB_SOURCE_DIR}/${layer}/*.cpp")
  rank_of("${layer}" own)
  foreach(file IN LISTS files)
    math(EXPR checked "${checked} + 1")
    file(STRINGS "${CAPDB_SOURCE_DIR}/${file}" lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*" "" target "${line}")
      string(REGEX REPLACE "[ \t]*//.*$" "" target "${target}")
      if(target MATCHES "^\"([^\"]+)\"")
        set(path "${CMAKE_MATCH_1}")
        string(REGEX MATCH "^[^/]+" top "${path}")
        if(layer STREQUAL "include/capdb")
          if(NOT top STREQUAL "capdb")
            offend("${file}" "${target}" "a public header includes only capdb/ headers")
          endif()
        elseif(top STREQUAL "capdb")
          # The public API: every layer may use it.
        elseif(layer STREQUAL "cli")
          if(NOT top STREQUAL "cli")
            offend("${file}" "${target}" "cli/ uses the public API (capdb/...) only")
          endif()
        else()
          rank_of("${top}" theirs)
          if(theirs EQUAL -1)
            offend("${file}" "${target}" "not a layer's header")
          elseif(theirs GREATER own)
            offend("${file}" "${target}" "${layer}/ may not include ${top}/, a higher layer")
          endif()
        endif()
      elseif(target MATCHES "^<([^>]+)>")
        set(path "${CMAKE_MATCH_1}")
        if(layer STREQUAL "include/capdb")
          if(NOT path MATCHES "^(capnp|kj)/" AND path MATCHES "[./]")
            offend("${file}" "${target}" "a public header includes only Cap'n Proto, KJ and the standard library")
          endif()
        endif()
        if(path STREQUAL "lmdb.h" AND NOT layer STREQUAL "engine")
          offend("${file}" "${target}" "only engine/ uses LMDB")
        endif()
        if(layer STREQUAL "engine" AND path MATCHES "^(capnp|kj)/")
          offend("${file}" "${target}" "engine/ stores bytes and never sees Cap'n Proto")
        endif()
      else()
        offend("${file}" "${target}" "an #include this check cannot read")
      endif()
    endforeach()
  endforeach()
endforeach()

if(checked LESS 50)
  message(FATAL_ERROR "layering: only ${checked} files found under ${CAPDB_SOURCE_DIR}")
endif()
if(failures)
  message(FATAL_ERROR "layering: includes that break the layer order:\n${failures}")
endif()
message(STATUS "layering: ${checked} files follow the layer order")
