# CTest driver (cmake -DEXE=<cifar10_resnet18> -DDIR=<scratch folder> -P nan_guard.cmake): a good
# run writes a checkpoint, then runs that diverge (--lr 1e30) must stop with exit code 3 and a
# message naming the step or the tensor, and must leave that checkpoint byte for byte as it was:
#   stop     a non-finite loss stops training (the default --on-nan stop)
#   skip     --on-nan skip skips the batch; the weights are NaN by the end of the epoch anyway, so the
#            end-of-epoch check refuses to save
#   weights  one step whose loss is finite but whose update overflows the weights (--wd 1e20): no
#            loss is ever non-finite, the end-of-epoch check alone refuses to save
cmake_minimum_required(VERSION 3.25)
if(NOT EXE OR NOT DIR)
  message(FATAL_ERROR "usage: cmake -DEXE=<cifar10_resnet18> -DDIR=<scratch folder> -P nan_guard.cmake")
endif()
set(ENV{OMP_NUM_THREADS} 2)
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
set(common --synthetic 48 --batch 16 --limit-batches 3 --log ${DIR}/history.csv)

function(run_example name)
  execute_process(COMMAND ${EXE} ${common} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(rc ${rc} PARENT_SCOPE)
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
  message(STATUS "[${name}] exit code ${rc}\n--- stdout\n${out}--- stderr\n${err}---")
endfunction()

# The good run: one epoch, a checkpoint of finite weights.
run_example(good --epochs 1 --checkpoint ${DIR}/good.ckpt)
if(NOT rc EQUAL 0 OR NOT EXISTS ${DIR}/good.ckpt)
  message(FATAL_ERROR "[good] the good run failed (exit code ${rc})")
endif()
file(SHA256 ${DIR}/good.ckpt good_hash)

# Each diverging run resumes from its own copy of the good checkpoint (--override: with other settings).
function(diverge name)
  file(COPY_FILE ${DIR}/good.ckpt ${DIR}/${name}.ckpt)
  run_example(${name} --epochs 2 --resume --override --checkpoint ${DIR}/${name}.ckpt --lr 1e30 ${ARGN})
  set(rc ${rc} PARENT_SCOPE)
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
  if(NOT rc EQUAL 3)
    message(FATAL_ERROR "[${name}] expected exit code 3, got ${rc}")
  endif()
  file(SHA256 ${DIR}/${name}.ckpt hash)
  if(NOT hash STREQUAL good_hash)
    message(FATAL_ERROR "[${name}] the checkpoint was overwritten")
  endif()
  file(GLOB stray ${DIR}/${name}.ckpt.tmp.*)
  if(stray)
    message(FATAL_ERROR "[${name}] temporary files left behind: ${stray}")
  endif()
  if(NOT err MATCHES "The last checkpoint \\([^)]*${name}\\.ckpt, end of epoch 1\\) was not overwritten")
    message(FATAL_ERROR "[${name}] the message does not say that the checkpoint of epoch 1 was kept")
  endif()
endfunction()

diverge(stop)
if(NOT err MATCHES "step [0-9]+ \\(epoch 2, batch [0-9]+\\): loss is -?(nan|inf); stopping")
  message(FATAL_ERROR "[stop] no message naming the step whose loss is not finite")
endif()

diverge(skip --on-nan skip)
if(NOT out MATCHES "step [0-9]+ \\(epoch 2, batch [0-9]+\\): loss is -?(nan|inf); skipping this batch")
  message(FATAL_ERROR "[skip] no message saying that the batch was skipped")
endif()
if(NOT err MATCHES "end of epoch 2 \\(step [0-9]+\\): [a-z -]+ '[^']+' \\(value -?(nan|inf) at index [0-9]+\\) is not finite")
  message(FATAL_ERROR "[skip] no message naming the non-finite tensor")
endif()

diverge(weights --limit-batches 1 --schedule multistep --wd 1e20)
if(err MATCHES "loss is")
  message(FATAL_ERROR "[weights] expected a finite loss: this case checks the end-of-epoch check alone")
endif()
if(NOT err MATCHES "end of epoch 2 \\(step [0-9]+\\): parameter '[^']+' \\(value -?(nan|inf) at index [0-9]+\\) is not finite")
  message(FATAL_ERROR "[weights] no message naming the non-finite parameter")
endif()

message(STATUS "the checkpoint of the good run survived every diverging run unchanged")
