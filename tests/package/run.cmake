# Proves vigil can be consumed: builds and runs a consumer project against vigil either
#   find_package:     an install of the current build tree (<binary dir>/package-prefix), or
#   add_subdirectory: vigil's source tree, built inside the consumer.
#
# Usage: cmake -DVIGIL_PACKAGE_MODE=find_package|add_subdirectory -DVIGIL_SOURCE_DIR=<src>
#              -DVIGIL_BINARY_DIR=<build> [-DVIGIL_CXX_COMPILER=<c++>] [-DVIGIL_CXX_FLAGS=<flags>]
#              [-DVIGIL_EXE_LINKER_FLAGS=<flags>] -P tests/package/run.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS VIGIL_PACKAGE_MODE VIGIL_SOURCE_DIR VIGIL_BINARY_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()

# Runs a command, echoing it first; fails the test on a non-zero exit.
function(run)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "+ ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "package test (${VIGIL_PACKAGE_MODE}) failed: `${shown}` -> ${result}")
  endif()
endfunction()

set(work "${VIGIL_BINARY_DIR}/package-test/${VIGIL_PACKAGE_MODE}")
file(REMOVE_RECURSE "${work}")

set(configure_args -G Ninja -DCMAKE_BUILD_TYPE=Debug
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(VIGIL_CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${VIGIL_CXX_COMPILER}")
endif()
# The consumer is built with the same instrumentation as vigil, or sanitized builds would not link.
list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${VIGIL_CXX_FLAGS}"
  "-DCMAKE_EXE_LINKER_FLAGS=${VIGIL_EXE_LINKER_FLAGS}")

if(VIGIL_PACKAGE_MODE STREQUAL "find_package")
  set(prefix "${VIGIL_BINARY_DIR}/package-prefix")
  file(REMOVE_RECURSE "${prefix}")
  run("${CMAKE_COMMAND}" --install "${VIGIL_BINARY_DIR}" --prefix "${prefix}")
  set(project_dir "${VIGIL_SOURCE_DIR}/tests/package/consumer")
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${prefix}")
elseif(VIGIL_PACKAGE_MODE STREQUAL "add_subdirectory")
  set(project_dir "${VIGIL_SOURCE_DIR}/tests/package/subdir_consumer")
  list(APPEND configure_args "-DVIGIL_SOURCE_DIR=${VIGIL_SOURCE_DIR}")
else()
  message(FATAL_ERROR "run.cmake: unknown VIGIL_PACKAGE_MODE '${VIGIL_PACKAGE_MODE}'")
endif()

run("${CMAKE_COMMAND}" -S "${project_dir}" -B "${work}" ${configure_args})
run("${CMAKE_COMMAND}" --build "${work}" --target consumer --parallel 2)
run("${work}/consumer")
message(STATUS "package test (${VIGIL_PACKAGE_MODE}) passed")
