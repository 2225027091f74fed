#include "main.cpp"  // the CUDA build of the same program
