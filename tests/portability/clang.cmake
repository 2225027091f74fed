# cmake -DSOURCE=<ctnn source> -DCXX=<clang++ or empty> -DEIGEN=<Eigen include dir> -P clang.cmake
# ctnn is built and tested with GCC; this keeps it a C++20 library that Clang accepts too: the
# programs below (the example, the fuzz harness, every header in an unusual order) are compiled
# by Clang with -fsyntax-only, which instantiates every template they use. Skipped (exit code
# 77, see SKIP_RETURN_CODE) when no clang++ is installed.
if(NOT CXX)
  message("no clang++ found: the Clang check is skipped (apt-get install clang; scripts/test.sh installs it)")
  cmake_language(EXIT 77)
endif()
set(sources
    examples/cifar10_resnet18/main.cpp
    examples/cifar10_resnet18/train.cpp
    examples/cifar10_resnet18/interop.cpp
    examples/custom_network/main.cpp
    examples/predict/main.cpp
    tests/fuzz/make_seeds.cc
    tests/compile_fail/include_order.cpp)
foreach(src IN LISTS sources)
  execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -Wall -Wextra -I${SOURCE}/include -I${EIGEN} -DCTNN_HAS_STB=1
                          ${SOURCE}/${src}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${CXX} refuses ${src}:\n${out}")
  endif()
  message(STATUS "${CXX} accepts ${src}")
endforeach()
# Separate compilation (core/config.hpp): the example's unit and the compiled kernels.
set(compiled_unit ${CMAKE_CURRENT_BINARY_DIR}/clang_ctnn_compiled.cpp)
file(WRITE ${compiled_unit} "#include <ctnn/compiled.hpp>\n")
foreach(src IN ITEMS ${SOURCE}/examples/cifar10_resnet18/train.cpp ${compiled_unit})
  execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -Wall -Wextra -I${SOURCE}/include -I${EIGEN}
                          -DCTNN_SEPARATE_COMPILATION=1 ${src}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${CXX} refuses ${src} with CTNN_SEPARATE_COMPILATION=1:\n${out}")
  endif()
  message(STATUS "${CXX} accepts ${src} with CTNN_SEPARATE_COMPILATION=1")
endforeach()
