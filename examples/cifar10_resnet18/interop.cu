#include "interop.cpp"  // the CUDA build of the same weight files
