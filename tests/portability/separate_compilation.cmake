# Separate compilation (include/ctnn/core/config.hpp): the object of a unit compiled with
# CTNN_SEPARATE_COMPILATION=1 only refers to the CPU backend's kernels, and ctnn::compiled's
# library defines them.
#   cmake -DNM=<nm> -DOBJECTS=<the unit's object> -DLIBRARY=<libctnn_compiled.a> -P separate_compilation.cmake
set(kernels  # what a network's layers call
  "ctnn::backend::cpu::Conv2d::Conv2d("
  "ctnn::backend::cpu::Conv2d::backward("
  "ctnn::backend::cpu::Conv2d::run_forward("
  "ctnn::backend::cpu::GlobalAvgPool::forward("
  "ctnn::backend::cpu::BatchNorm::forward_train("
  "ctnn::backend::cpu::BatchNorm::backward("
  "ctnn::backend::cpu::Linear::forward(")
function(symbols file out)
  execute_process(COMMAND ${NM} -C ${file} OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -C ${file} failed (${rc})")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()
symbols("${OBJECTS}" unit)
symbols("${LIBRARY}" library)
foreach(k IN LISTS kernels)
  string(REPLACE "(" "\\(" pattern "${k}")
  # nm -C: "<address> <type> <name>": T is code defined here, W an inline copy, U a reference.
  if(unit MATCHES " [TtWw] ${pattern}")
    message(FATAL_ERROR "the unit compiled with CTNN_SEPARATE_COMPILATION=1 defines ${k}...); it should only refer to it")
  endif()
  if(NOT unit MATCHES " U ${pattern}")
    message(FATAL_ERROR "the unit does not refer to ${k}...): this check no longer tests what it says")
  endif()
  if(NOT library MATCHES " T ${pattern}")
    message(FATAL_ERROR "ctnn_compiled does not define ${k}...)")
  endif()
endforeach()
list(LENGTH kernels n)
message(STATUS "separate compilation: the unit refers to ${n} CPU kernels, ctnn_compiled defines them")
