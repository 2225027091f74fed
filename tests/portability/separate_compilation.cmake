# Separate compilation (include/ctnn/core/config.hpp): the objects of units compiled with
# CTNN_SEPARATE_COMPILATION=1 only refer to the functions <ctnn/compiled.hpp> defines, and
# ctnn::compiled's library defines them.
#   cmake -DNM=<nm> -DOBJECTS=<objects> -DLIBRARY=<libctnn_compiled.a> -DSYMBOLS=<names> [-DINCLUDE=<include dir>]
#         -P separate_compilation.cmake
# SYMBOLS: ';'-separated qualified names, each followed in nm's demangled output by '('.
# INCLUDE: also check that <ctnn/compiled.hpp> includes every impl/*.ipp file under it (a file it
# left out would leave its functions undefined in separately compiled programs).
if(INCLUDE)
  file(READ ${INCLUDE}/ctnn/compiled.hpp compiled)
  file(GLOB_RECURSE ipps RELATIVE ${INCLUDE}/ctnn ${INCLUDE}/ctnn/*.ipp)
  if(NOT ipps)
    message(FATAL_ERROR "no impl/*.ipp files under ${INCLUDE}/ctnn")
  endif()
  foreach(ipp IN LISTS ipps)
    string(FIND "${compiled}" "#include \"${ipp}\"" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "<ctnn/compiled.hpp> does not include ${ipp}")
    endif()
  endforeach()
endif()
function(symbols out)
  execute_process(COMMAND ${NM} -C ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -C ${ARGN} failed (${rc})")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()
symbols(units ${OBJECTS})
symbols(library ${LIBRARY})
foreach(name IN LISTS SYMBOLS)
  # nm -C: "<address> <type> <name>": T is code defined here, W an inline copy, U a reference.
  set(pattern "${name}\\(")
  if(units MATCHES " [TtWw] ${pattern}")
    message(FATAL_ERROR "a unit compiled with CTNN_SEPARATE_COMPILATION=1 defines ${name}(); it should only refer to it")
  endif()
  if(NOT units MATCHES " U ${pattern}")
    message(FATAL_ERROR "no unit refers to ${name}(): this check no longer tests what it says")
  endif()
  if(NOT library MATCHES " T ${pattern}")
    message(FATAL_ERROR "ctnn_compiled does not define ${name}()")
  endif()
endforeach()
list(LENGTH SYMBOLS n)
message(STATUS "separate compilation: the units refer to ${n} functions, ctnn_compiled defines them")
