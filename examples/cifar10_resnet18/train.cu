#include "train.cpp"  // the CUDA build of the same training
