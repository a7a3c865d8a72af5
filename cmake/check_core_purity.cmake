# Fails when vigil's core layer does anything impure: includes Boost, Asio or a threading header,
# reads a clock, sleeps, draws ambient randomness, or reaches up into a higher layer.
#
# Usage: cmake -DVIGIL_SOURCE_DIR=<dir> -P cmake/check_core_purity.cmake
# Scans <dir>/include/vigil/core/**/*.{hpp,ipp,h} and <dir>/src/core/**/*.{cpp,hpp,ipp,h},
# except *_test.cpp (tests may use whatever they need). Comments are ignored.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED VIGIL_SOURCE_DIR)
  message(FATAL_ERROR "check_core_purity: pass -DVIGIL_SOURCE_DIR=<source dir>")
endif()
get_filename_component(root "${VIGIL_SOURCE_DIR}" ABSOLUTE)
if(NOT IS_DIRECTORY "${root}/include/vigil/core" AND NOT IS_DIRECTORY "${root}/src/core")
  message(FATAL_ERROR
    "check_core_purity: neither ${root}/include/vigil/core nor ${root}/src/core exists")
endif()

# Each rule is "<regex>|<why it is forbidden>". The regexes must not be anchored: a violation's
# position is found as the first occurrence of the matched text.
set(include_re "#[ \t]*include[ \t]*[<\"]")
set(rules
  "${include_re}boost/|Boost belongs to the runtime layer"
  "${include_re}asio[/.>]|Asio belongs to the runtime layer"
  "${include_re}(thread|mutex|shared_mutex|condition_variable|future|semaphore|latch|barrier)>|the core has no threads or locks"
  "${include_re}(ctime|time\\.h|sys/time\\.h)>|the core does not read clocks"
  "${include_re}vigil/(runtime|observe|testing)/|the core must not depend on higher layers"
  "${include_re}vigil/vigil\\.hpp|the umbrella header is for users only"
  "::now[ \t]*\\(|the core does not read clocks: time comes in as an argument"
  "sleep_(for|until)|the core never sleeps"
  "random_device|randomness comes in as a seeded generator"
  "::time[ \t]*\\(|the core does not read clocks"
  "(clock_gettime|gettimeofday)[ \t]*\\(|the core does not read clocks"
)

# Replaces comments with blank space of the same line count, so line numbers still match.
function(strip_comments out_var text)
  set(result "")
  while(TRUE)
    string(FIND "${text}" "//" line_at)
    string(FIND "${text}" "/*" block_at)
    if(line_at EQUAL -1 AND block_at EQUAL -1)
      break()
    endif()
    if(block_at EQUAL -1 OR (NOT line_at EQUAL -1 AND line_at LESS block_at))
      string(SUBSTRING "${text}" 0 ${line_at} before)
      string(SUBSTRING "${text}" ${line_at} -1 text)
      string(FIND "${text}" "\n" end)
      if(end EQUAL -1)
        set(text "")
      else()
        string(SUBSTRING "${text}" ${end} -1 text)
      endif()
      string(APPEND result "${before}")
    else()
      string(SUBSTRING "${text}" 0 ${block_at} before)
      string(SUBSTRING "${text}" ${block_at} -1 text)
      string(FIND "${text}" "*/" end)
      if(end EQUAL -1)
        set(comment "${text}")
        set(text "")
      else()
        math(EXPR end "${end} + 2")
        string(SUBSTRING "${text}" 0 ${end} comment)
        string(SUBSTRING "${text}" ${end} -1 text)
      endif()
      string(REGEX REPLACE "[^\n]" "" newlines "${comment}")
      string(APPEND result "${before} ${newlines}")
    endif()
  endwhile()
  string(APPEND result "${text}")
  set(${out_var} "${result}" PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE files LIST_DIRECTORIES FALSE
  "${root}/include/vigil/core/*.hpp" "${root}/include/vigil/core/*.ipp"
  "${root}/include/vigil/core/*.h"
  "${root}/src/core/*.cpp" "${root}/src/core/*.hpp" "${root}/src/core/*.ipp"
  "${root}/src/core/*.h")
list(FILTER files EXCLUDE REGEX "_test\\.cpp$")
list(SORT files)

set(violations "")
set(count 0)
foreach(file IN LISTS files)
  file(RELATIVE_PATH rel "${root}" "${file}")
  file(READ "${file}" content)
  # "://" (a URL in a string literal) does not start a comment.
  string(REPLACE "://" ":/ /" content "${content}")
  strip_comments(code "${content}")
  foreach(rule IN LISTS rules)
    string(REGEX MATCH "^(.*)\\|([^|]*)$" _ "${rule}")
    set(regex "${CMAKE_MATCH_1}")
    set(why "${CMAKE_MATCH_2}")
    set(rest "${code}")
    set(offset 0)
    while(TRUE)
      string(REGEX MATCH "${regex}" hit "${rest}")
      if(hit STREQUAL "")
        break()
      endif()
      string(FIND "${rest}" "${hit}" at)
      math(EXPR pos "${offset} + ${at}")
      string(SUBSTRING "${code}" 0 ${pos} before)
      string(REGEX MATCHALL "\n" newlines "${before}")
      list(LENGTH newlines line)
      math(EXPR line "${line} + 1")
      # The offending line, for the message.
      string(FIND "${before}" "\n" line_start REVERSE)
      math(EXPR line_start "${line_start} + 1")
      string(SUBSTRING "${code}" ${line_start} -1 text)
      string(FIND "${text}" "\n" line_end)
      string(SUBSTRING "${text}" 0 ${line_end} text)
      string(STRIP "${text}" text)
      string(APPEND violations "  ${rel}:${line}: ${text}    <- ${why}\n")
      math(EXPR count "${count} + 1")
      string(LENGTH "${hit}" hit_length)
      math(EXPR skip "${at} + ${hit_length}")
      string(SUBSTRING "${rest}" ${skip} -1 rest)
      math(EXPR offset "${offset} + ${skip}")
    endwhile()
  endforeach()
endforeach()

list(LENGTH files scanned)
if(count GREATER 0)
  message(FATAL_ERROR
    "core purity check failed: ${count} violation(s) in ${root}\n${violations}"
    "The core is pure (ARCHITECTURE.md, \"Layers\"): move the code to the runtime layer, or "
    "pass time and randomness in as arguments.")
endif()
message(STATUS "core purity: ${scanned} file(s) clean")
