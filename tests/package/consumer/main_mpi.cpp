// A data-parallel training step through the installed package's ctnn::mpi (a single MPI process
// when started without a launcher).
#include <ctnn/ctnn.hpp>
#include <ctnn/dist/mpi.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  ctnn::dist::Mpi mpi(argc, argv);
  ctnn::dist::MpiCommunicator world;
  using Net = ctnn::Network<ctnn::Seq<ctnn::Flatten, ctnn::Linear<12, 3>>, ctnn::Shape<3, 2, 2>>;
  Net net(4, 1);
  ctnn::dist::DataParallel dp(net, world);
  ctnn::SGD opt{0.1f};
  ctnn::Tensor<ctnn::Shape<3, 2, 2>> x(4);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(i % 7) / 7.f;
  ctnn::Tensor<ctnn::Shape<3>> grad(4);
  const std::int32_t labels[4] = {0, 1, 2, 1};
  const auto r = ctnn::train::step(net, opt, x, labels, grad, 0.f, [&] { dp.finish(); });
  std::printf("ctnn consumer (MPI): rank %d of %d, loss %.4f\n", world.rank(), world.size(), r.loss);
  return r.finite ? 0 : 1;
}
