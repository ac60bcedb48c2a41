# capdb_add_schemas(TARGET FILES...)
#
# Generates C++ for the .capnp files with capnp_generate_cpp, with capdb's annotations on the
# import path (import "/capdb/annotations.capnp"), adds the generated sources to TARGET and puts
# the generated headers on its include path, named after each file's path relative to the first
# file's directory (#include "person.capnp.h" for schemas/person.capnp). Set CAPNPC_SRC_PREFIX
# to choose another base directory.
#
# Apps get it from find_package(capdb CONFIG), or from add_subdirectory() of capdb's tree.
#
# The stock capnp_generate_cpp only knows the file it compiles. This wrapper also makes the
# generated code depend on every file the schema imports, directly or not, so editing an
# imported .capnp rebuilds what uses it; and it re-scans the imports at configure time whenever
# one of the files changes.

# The directory that holds capdb/annotations.capnp: include/ in the source tree, or the installed
# include directory, which capdbConfig.cmake sets in CAPDB_INSTALLED_INCLUDE_DIR before including
# this file.
if(DEFINED CAPDB_INSTALLED_INCLUDE_DIR)
  set(CAPDB_ANNOTATIONS_INCLUDE_DIR "${CAPDB_INSTALLED_INCLUDE_DIR}" CACHE INTERNAL "")
else()
  set(CAPDB_ANNOTATIONS_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../include" CACHE INTERNAL "")
endif()
# CapnProtoConfig.cmake sets CAPNP_INCLUDE_DIRECTORY in capdb's directory scope only; remember it
# for apps that call capdb_add_schemas() from their own directories (add_subdirectory).
set(CAPDB_CAPNP_INCLUDE_DIRECTORY "${CAPNP_INCLUDE_DIRECTORY}" CACHE INTERNAL "")

# Appends to OUT the absolute paths of the files FILE imports, transitively.
function(_capdb_capnp_imports file import_dirs out)
  set(seen ${${out}})
  set(queue "${file}")
  while(queue)
    list(POP_FRONT queue current)
    get_filename_component(current_dir "${current}" DIRECTORY)
    file(STRINGS "${current}" lines REGEX "import[ \t]+\"[^\"]+\"")
    foreach(line IN LISTS lines)
      string(REGEX MATCHALL "import[ \t]+\"[^\"]+\"" imports "${line}")
      foreach(imp IN LISTS imports)
        string(REGEX REPLACE "import[ \t]+\"([^\"]+)\"" "\\1" name "${imp}")
        set(found "")
        if(name MATCHES "^/")
          foreach(dir IN LISTS import_dirs)
            if(EXISTS "${dir}${name}")
              set(found "${dir}${name}")
              break()
            endif()
          endforeach()
        elseif(EXISTS "${current_dir}/${name}")
          set(found "${current_dir}/${name}")
        endif()
        if(found)
          get_filename_component(found "${found}" ABSOLUTE)
          if(NOT found IN_LIST seen)
            list(APPEND seen "${found}")
            list(APPEND queue "${found}")
          endif()
        endif()
      endforeach()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(capdb_add_schemas target)
  set(files ${ARGN})
  if(NOT files)
    message(FATAL_ERROR "capdb_add_schemas(${target}) needs at least one .capnp file")
  endif()
  if(NOT CAPNP_INCLUDE_DIRECTORY)
    set(CAPNP_INCLUDE_DIRECTORY "${CAPDB_CAPNP_INCLUDE_DIRECTORY}")
  endif()
  set(capnp_include "${CAPNP_INCLUDE_DIRECTORY}")
  set(CAPNPC_IMPORT_DIRS "${CAPDB_ANNOTATIONS_INCLUDE_DIR}")
  set(CAPNPC_OUTPUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/capnp-gen")
  if(NOT DEFINED CAPNPC_SRC_PREFIX)
    # Generated headers are named after the files' paths relative to the first file's directory:
    # #include "person.capnp.h" for person.capnp.
    list(GET files 0 first)
    get_filename_component(first "${first}" ABSOLUTE)
    get_filename_component(CAPNPC_SRC_PREFIX "${first}" DIRECTORY)
  endif()
  file(MAKE_DIRECTORY "${CAPNPC_OUTPUT_DIR}")
  capnp_generate_cpp(srcs hdrs ${files})

  get_filename_component(prefix "${CAPNPC_SRC_PREFIX}" ABSOLUTE)
  set(import_dirs "${prefix}" "${CAPDB_ANNOTATIONS_INCLUDE_DIR}" "${capnp_include}")
  foreach(file IN LISTS files)
    get_filename_component(abs "${file}" ABSOLUTE)
    set(imports "")
    _capdb_capnp_imports("${abs}" "${import_dirs}" imports)
    string(LENGTH "${prefix}" prefix_len)
    string(SUBSTRING "${abs}" ${prefix_len} -1 rel)
    if(imports)
      add_custom_command(OUTPUT "${CAPNPC_OUTPUT_DIR}${rel}.c++" APPEND DEPENDS ${imports})
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${abs}" ${imports})
  endforeach()

  target_sources(${target} PRIVATE ${srcs} ${hdrs})
  # Build tree only: an installed capdb library finds its generated headers in the include
  # directory it installs.
  target_include_directories(${target} PUBLIC "$<BUILD_INTERFACE:${CAPNPC_OUTPUT_DIR}>")
  target_link_libraries(${target} PUBLIC CapnProto::capnp)
endfunction()
