# cmake -DSOURCE=<ctnn source tree> -DDIR=<scratch folder> -P quick_start.cmake
# The README's command 1 as a new user runs it, in its short form: a copy of the source tree without
# build outputs (runs/, build/, data/ left behind), then `scripts/train_cifar10.sh -- --limit-batches
# 2 --epochs 1` in it. It must build the example, train and end with runs/history.csv and
# runs/history.png, whichever python3 comes first on PATH.

file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
file(GLOB entries RELATIVE ${SOURCE} ${SOURCE}/*)
foreach(entry IN LISTS entries)
  if(entry MATCHES "^(build|runs|data|out|\\.git)$")
    continue()
  endif()
  file(COPY ${SOURCE}/${entry} DESTINATION ${DIR})
endforeach()

execute_process(
  COMMAND ${CMAKE_COMMAND} -E env OMP_NUM_THREADS=2 bash scripts/train_cifar10.sh -- --limit-batches 2 --epochs 1
  WORKING_DIRECTORY ${DIR}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message(NOTICE "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "quick start: scripts/train_cifar10.sh failed (exit ${rc}); its output is above")
endif()
foreach(file runs/history.csv runs/history.png)
  if(NOT EXISTS ${DIR}/${file})
    message(FATAL_ERROR "quick start: scripts/train_cifar10.sh succeeded but left no ${file}")
  endif()
endforeach()
file(SIZE ${DIR}/runs/history.png png_bytes)
if(png_bytes LESS 1000)
  message(FATAL_ERROR "quick start: runs/history.png has only ${png_bytes} bytes")
endif()
message(STATUS "quick start: trained and plotted (runs/history.png, ${png_bytes} bytes)")
file(REMOVE_RECURSE ${DIR})
