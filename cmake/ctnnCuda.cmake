# The CUDA backend's build: sets CTNN_CUDA_ENABLED when nvcc and cuDNN are usable (CTNN_CUDA=AUTO),
# requires them (ON) or skips them (OFF). CPU-only targets never see a CUDA header.
#
# Targets when enabled:
#   ctnn::cuda      INTERFACE, for users: ctnn::ctnn plus the CUDA runtime, cuBLAS, cuDNN and the
#                   nvcc options ctnn's headers need (C++20, Eigen's two front-end warnings
#                   suppressed, --expt-relaxed-constexpr). Compile the .cu files that include
#                   <ctnn/ctnn.hpp> with it. Installed with the package as its CUDA component:
#                   find_package(ctnn COMPONENTS CUDA) in a project with the CUDA language enabled.
#   ctnn_cuda_portable  the same without OpenMP and -march=native: for the test and benchmark
#                   binaries that are built here and run on another (GPU) machine.
set(CTNN_CUDA_ENABLED OFF)

function(_ctnn_cuda_unavailable why)
  if(CTNN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ctnn: CTNN_CUDA=ON but ${why}")
  endif()
  message(STATUS "ctnn: CUDA backend OFF (${why})")
endfunction()

if(NOT CTNN_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    _ctnn_cuda_unavailable("no CUDA compiler (nvcc) was found")
  else()
    # sm_90 (H100/H200) machine code plus compute_90 PTX for newer GPUs.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit)
    find_package(CUDNN)
    if(NOT CUDAToolkit_FOUND)
      _ctnn_cuda_unavailable("the CUDA Toolkit libraries were not found")
    elseif(NOT CUDNN_FOUND)
      _ctnn_cuda_unavailable("cuDNN was not found (set CUDNN_ROOT)")
    elseif(NOT TARGET CUDA::cublas)
      _ctnn_cuda_unavailable("cuBLAS was not found")
    else()
      set(CTNN_CUDA_ENABLED ON)
    endif()
  endif()
endif()

if(CTNN_CUDA_ENABLED)
  # CMake 3.25 does not know nvcc 13's C++20 mode as a compile feature (cuda_std_20); pass it.
  set(_ctnn_cuda_options
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>
    # Eigen 3.4 through nvcc: #20012 and #20015 (__host__ __device__ annotations on defaulted
    # functions, host constexpr calls) are harmless for host-only Eigen use.
    $<$<COMPILE_LANGUAGE:CUDA>:--diag-suppress=20012,20015>)

  add_library(ctnn_cuda INTERFACE)
  add_library(ctnn::cuda ALIAS ctnn_cuda)
  target_link_libraries(ctnn_cuda INTERFACE ctnn::ctnn CUDA::cudart_static CUDA::cublas CUDNN::cudnn)
  target_compile_options(ctnn_cuda INTERFACE ${_ctnn_cuda_options})
  set_target_properties(ctnn_cuda PROPERTIES EXPORT_NAME cuda)
  install(TARGETS ctnn_cuda EXPORT ctnnCudaTargets)
  install(EXPORT ctnnCudaTargets NAMESPACE ctnn:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ctnn)
  # The package's CUDA component finds cuDNN with the same module.
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/FindCUDNN.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ctnn)

  add_library(ctnn_cuda_portable INTERFACE)
  target_include_directories(ctnn_cuda_portable INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(ctnn_cuda_portable INTERFACE Eigen3::Eigen CUDA::cudart_static CUDA::cublas CUDNN::cudnn)
  target_compile_features(ctnn_cuda_portable INTERFACE cxx_std_20)
  target_compile_options(ctnn_cuda_portable INTERFACE ${_ctnn_cuda_options}
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unknown-pragmas>)
  # libstdc++ and libgcc linked in, so the binaries run on a machine with an older runtime.
  target_link_options(ctnn_cuda_portable INTERFACE -static-libstdc++ -static-libgcc)

  message(STATUS "ctnn: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuDNN ${CUDNN_VERSION}, "
                 "architectures ${CMAKE_CUDA_ARCHITECTURES})")
endif()
