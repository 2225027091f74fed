// Defining a network and its training step needs no file-system code: network.hpp, the layers, the
// models, the CPU backend, the optimizers and train/step.hpp include none of the POSIX headers of
// io/file.hpp (train/fit.hpp writes checkpoints and does). <unistd.h> itself can arrive through the
// standard library (e.g. <atomic>), so it is not checked.
// expect-success
#include <ctnn/network.hpp>
#include <ctnn/layers.hpp>
#include <ctnn/models/resnet.hpp>
#include <ctnn/backend/cpu.hpp>
#include <ctnn/optim.hpp>
#include <ctnn/train/step.hpp>

#if defined(_FCNTL_H) || defined(_SYS_FILE_H) || defined(_DIRENT_H) || defined(_SYS_STAT_H)
#error "a POSIX file header was included by a header that defines or trains a network"
#endif

int main() {
  ctnn::Network<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>> net(1);
  return net.parameter_count() > 0 ? 0 : 1;
}
