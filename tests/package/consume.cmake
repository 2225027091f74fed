# cmake -DMODE=find_package|add_subdirectory|find_package_cuda [-DCUDA_COMPILER=...] -DCTNN_SOURCE_DIR=... -DCTNN_BINARY_DIR=...
#       -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX_COMPILER=... [-DCONFIG=...]
#       -P consume.cmake
# Builds and runs the consumer project against ctnn, installed (find_package) or as a subdirectory.

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message(NOTICE "---- ${what}\n${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test (${MODE}): ${what} failed (exit ${rc})")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(build ${WORK_DIR}/consumer-build)
set(configure_args -S ${CONSUMER_SOURCE_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})

if(MODE MATCHES "^find_package")
  set(prefix ${WORK_DIR}/prefix)
  set(install_args --install ${CTNN_BINARY_DIR} --prefix ${prefix})
  if(CONFIG)
    list(APPEND install_args --config ${CONFIG})
  endif()
  run("install ctnn into ${prefix}" ${CMAKE_COMMAND} ${install_args})
  foreach(file include/ctnn/ctnn.hpp include/ctnn/summary.hpp)
    if(NOT EXISTS ${prefix}/${file})
      message(FATAL_ERROR "package test: ${file} was not installed")
    endif()
  endforeach()
  # Only the temporary prefix may provide ctnn: a system-wide or user-registry copy must not.
  if(MODE STREQUAL "find_package_mpi")
    list(APPEND configure_args -DCTNN_CONSUMER_MPI=ON)
  endif()
  if(MODE STREQUAL "find_package_cuda")
    list(APPEND configure_args -DCTNN_CONSUMER_CUDA=ON -DCMAKE_CUDA_COMPILER=${CUDA_COMPILER} -DCMAKE_CUDA_ARCHITECTURES=90)
  endif()
  run("configure the consumer (${MODE})" ${CMAKE_COMMAND} ${configure_args}
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCTNN_CONSUMER_EXPECT_PREFIX=${prefix})
elseif(MODE STREQUAL "add_subdirectory")
  run("configure the consumer (add_subdirectory)" ${CMAKE_COMMAND} ${configure_args}
      -DCTNN_CONSUMER_SUBDIR=${CTNN_SOURCE_DIR} -DCTNN_CUDA=OFF)
else()
  message(FATAL_ERROR "package test: unknown MODE '${MODE}'")
endif()

run("build the consumer" ${CMAKE_COMMAND} --build ${build} -j 1)
set(consumer_name ctnn_consumer)
if(MODE STREQUAL "find_package_cuda")
  set(consumer_name ctnn_consumer_cuda)
elseif(MODE STREQUAL "find_package_mpi")
  set(consumer_name ctnn_consumer_mpi)
endif()
find_program(consumer NAMES ${consumer_name} PATHS ${build} ${build}/Debug ${build}/Release NO_DEFAULT_PATH REQUIRED)
run("run the consumer" ${CMAKE_COMMAND} -E env OMP_NUM_THREADS=1 ${consumer})
