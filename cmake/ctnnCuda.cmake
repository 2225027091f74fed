# CUDA detection. The CUDA backend's own tests and examples are added by their directories when
# CTNN_CUDA_ENABLED is set; CPU-only targets never see CUDA headers.
set(CTNN_CUDA_ENABLED OFF)
if(NOT CTNN_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CTNN_CUDA_ENABLED ON)
  elseif(CTNN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ctnn: CTNN_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "ctnn: CUDA backend ${CTNN_CUDA_ENABLED}")
