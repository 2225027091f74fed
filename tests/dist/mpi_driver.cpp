// The program the MPI tests launch (tests/dist/mpi.cmake) with mpirun: a small residual network
// trained data-parallel by train::fit on synthetic CIFAR-format data, and the comparisons of its
// results.
//
//   ctnn_dist_driver train DIR [--batch 64] [--steps 5] [--epochs 1] [--sync-bn] [--resume]
//                    [--timeout-ms T] [--fail RANK:STEP:throw|kill|hang]
//       trains; rank r writes DIR/rank<r>.weights, rank 0 DIR/history.csv and DIR/run.ckpt.
//       Prints whether the parameters and the buffers are identical on every rank; exit code 1
//       when the parameters are not.
//   ctnn_dist_driver compare DIR_A DIR_B TOL
//       exit code 1 when a parameter or buffer of the rank0.weights files differs by more than TOL
//       (relative, per tensor), or a loss or accuracy of the history.csv files does.
//   ctnn_dist_driver differ A.weights B.weights
//       exit code 1 when no batch-norm statistic differs (each rank's own statistics).

#include <ctnn/ctnn.hpp>
#include <ctnn/dist/mpi.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace ctnn;
using Spec = Seq<Conv<3, 8>, BatchNorm<8>, ReLU, BasicBlock<8, 16, 2>, GlobalAvgPool, Flatten, Linear<16, 10>>;
using Net = Network<Spec, Shape<3, 32, 32>>;

struct Fault {
  int rank = -1;
  std::size_t step = 0;
  std::string kind;
};

std::string arg_value(std::vector<std::string>& args, std::size_t& i) {
  if (i + 1 >= args.size()) throw std::runtime_error("missing value after " + args[i]);
  return args[++i];
}

int train_main(std::vector<std::string> args) {
  dist::MpiCommunicator comm;
  const std::string dir = args.at(0);
  std::size_t batch = 64, steps = 5, epochs = 1;
  bool sync_bn = false, resume = false;
  Fault fault;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--batch") batch = std::stoul(arg_value(args, i));
    else if (a == "--steps") steps = std::stoul(arg_value(args, i));
    else if (a == "--epochs") epochs = std::stoul(arg_value(args, i));
    else if (a == "--sync-bn") sync_bn = true;
    else if (a == "--resume") resume = true;
    else if (a == "--timeout-ms") comm.set_timeout(std::chrono::milliseconds(std::stol(arg_value(args, i))));
    else if (a == "--fail") {
      const std::string f = arg_value(args, i);
      const auto c1 = f.find(':'), c2 = f.find(':', c1 + 1);
      fault = {std::stoi(f.substr(0, c1)), std::stoul(f.substr(c1 + 1, c2 - c1 - 1)), f.substr(c2 + 1)};
    } else {
      throw std::runtime_error("unknown argument " + a);
    }
  }
  ctnn::set_num_threads(1);
  const data::CifarDataset train_set = data::synthetic_cifar(batch * steps, 7);
  const data::CifarDataset test_set = data::synthetic_cifar(100, 8);
  data::Loader train(train_set, dist::shard(data::LoaderOptions::training(3, batch), comm));
  data::Loader test(test_set, dist::shard(data::LoaderOptions::evaluation(64), comm));
  Net net(train.local_batch(), 11);
  SGD sgd{0.05f, 0.9f, 5e-4f};

  train::Options o;
  o.epochs = epochs;
  o.communicator = &comm;
  o.sync_batch_norm = sync_bn;
  o.bucket_bytes = 4096;  // several buckets even for this small network
  o.checkpoint = dir + "/run.ckpt";
  o.history = dir + "/history.csv";
  o.resume = resume;
  o.overwrite = !resume;
  o.progress = train::ProgressStyle::lines;
  o.on_step = [&](const train::StepInfo& s) {
    if (comm.rank() != fault.rank || s.step != fault.step) return;
    if (fault.kind == "throw") detail::fail("ctnn_dist_driver: rank ", comm.rank(), " fails at step ", s.step, " on purpose");
    if (fault.kind == "kill") std::raise(SIGKILL);
    if (fault.kind == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
  };
  const train::FitResult r = train::fit(net, sgd, train, &test, o);
  const bool params_same = dist::identical_everywhere<Cpu>(comm, net.parameters());
  const bool buffers_same = dist::identical_everywhere<Cpu>(comm, net.buffers());
  net.save(dir + "/rank" + std::to_string(comm.rank()) + ".weights");
  if (comm.is_root()) {
    std::printf("ranks %d  epochs %zu  steps %zu  final train loss %.6f\n", comm.size(), r.epochs_done, r.steps,
                r.epochs.empty() ? 0.0 : r.epochs.back().train_loss);
    std::printf("parameters identical on all ranks: %s\n", params_same ? "yes" : "no");
    std::printf("batch-norm statistics identical on all ranks: %s\n", buffers_same ? "yes" : "no");
  }
  return params_same ? 0 : 1;
}

// The largest per-tensor relative difference (max |a - b| / max |b|) over parameters and buffers.
int compare_main(const std::string& a, const std::string& b, double tol, bool want_buffer_difference) {
  Net x(1), y(1);
  x.load(a);
  y.load(b);
  double worst = 0, worst_buffer = 0;
  std::string where;
  auto diff = [&](const auto& p, const auto& q, double& into) {
    double m = 0, scale = 0;
    for (std::size_t i = 0; i < p.size; ++i) {
      m = std::max(m, double(std::fabs(p.value[i] - q.value[i])));
      scale = std::max(scale, double(std::fabs(q.value[i])));
    }
    const double rel = m / std::max(scale, 1e-12);
    if (rel > into) {
      into = rel;
      where = p.name;
    }
  };
  for (std::size_t i = 0; i < x.parameters().size(); ++i) diff(x.parameters()[i], y.parameters()[i], worst);
  for (std::size_t i = 0; i < x.buffers().size(); ++i) diff(x.buffers()[i], y.buffers()[i], worst_buffer);
  if (want_buffer_difference) {
    std::printf("largest batch-norm statistic difference: %.3g ('%s')\n", worst_buffer, where.c_str());
    return worst_buffer > 1e-6 ? 0 : 1;
  }
  worst = std::max(worst, worst_buffer);
  std::printf("largest relative difference: %.3g ('%s'), tolerance %.3g\n", worst, where.c_str(), tol);
  return worst <= tol ? 0 : 1;
}

// The loss and accuracy columns of a history CSV, row after row.
std::vector<double> history_values(const std::string& path) {
  std::ifstream in(path);
  if (!in) detail::fail("ctnn_dist_driver: cannot read ", path);
  std::string line;
  std::getline(in, line);  // epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds
  std::vector<double> out;
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string cell;
    for (int column = 0; std::getline(row, cell, ','); ++column)
      if (column >= 2 && column <= 5) out.push_back(std::stod(cell));
  }
  return out;
}

int compare_dirs(const std::string& a, const std::string& b, double tol) {
  int rc = compare_main(a + "/rank0.weights", b + "/rank0.weights", tol, false);
  const auto ha = history_values(a + "/history.csv"), hb = history_values(b + "/history.csv");
  if (ha.size() != hb.size() || ha.empty()) {
    std::printf("the histories differ in length: %zu and %zu values\n", ha.size(), hb.size());
    return 1;
  }
  double worst = 0;
  for (std::size_t i = 0; i < ha.size(); ++i) worst = std::max(worst, std::fabs(ha[i] - hb[i]) / std::max(std::fabs(hb[i]), 1e-12));
  std::printf("largest relative difference of the losses and accuracies: %.3g, tolerance %.3g\n", worst, tol);
  return worst <= tol ? rc : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fprintf(stderr, "usage: ctnn_dist_driver train DIR ... | compare A B TOL | differ A B\n");
    return 2;
  }
  const std::string mode = args[0];
  args.erase(args.begin());
  if (mode == "compare") return compare_dirs(args.at(0), args.at(1), std::stod(args.at(2)));
  if (mode == "differ") return compare_main(args.at(0), args.at(1), 0, true);
  dist::Mpi mpi(argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    return train_main(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: error: %s\n", rank, e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
}
