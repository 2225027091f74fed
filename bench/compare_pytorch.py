#!/usr/bin/env python3
"""Side-by-side: ctnn against PyTorch (Debian's python3-torch, CPU) on the same shapes, in one run.

Runs the ctnn benchmark binaries (bench_conv, bench_network) and the same work in PyTorch with the
same thread count, then prints one table of rates and ratios (ctnn / PyTorch; above 1 means ctnn is
faster). Rates are medians over repetitions.

The whole-network rows run in rounds that alternate the two (one ctnn benchmark repetition, then
PyTorch's steps, --reps rounds): the machines this runs on are shared, and a neighbour's load that
comes and goes then slows both sides of a round alike. Their ratio is the median of the per-round
ratios, with the lowest and highest beside it; a wide range says the run was disturbed.

Rows: the ResNet-18 training step and inference, the small network of bench/small_net.hpp (training
and inference at batch 128), then per convolution of ResNet-18 on CIFAR-10
(skipped with --quick) forward, backward data (PyTorch: torch.autograd.grad with respect to the
input only), backward filter (with respect to the weight only) and backward data + filter together
("bwd", what a training step runs; twice the FLOPs).

usage: bench/compare_pytorch.py [--build build/release] [--threads 2] [--batch 64] [--reps 5] [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONVS = [  # in, out, size, kernel, stride: every distinct convolution of ResNet-18 on CIFAR-10
    (3, 64, 32, 3, 1), (64, 64, 32, 3, 1), (64, 128, 32, 3, 2), (64, 128, 32, 1, 2),
    (128, 128, 16, 3, 1), (128, 256, 16, 3, 2), (128, 256, 16, 1, 2), (256, 256, 8, 3, 1),
    (256, 512, 8, 3, 2), (256, 512, 8, 1, 2), (512, 512, 4, 3, 1),
]


def ctnn_bench(build, exe, filt, threads, reps):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    path = os.path.join(build, "bench", exe)
    out = subprocess.run([path, f"--benchmark_filter={filt}", "--benchmark_format=json",
                          f"--benchmark_repetitions={reps}", "--benchmark_report_aggregates_only=true"],
                         env=env, check=True, capture_output=True, text=True).stdout
    results = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name", "median") == "median":  # a single repetition has no aggregates
            results[b["run_name"]] = b
    return results


def pick(results, prefix, suffix="/real_time"):
    """The benchmark whose name starts with prefix (names carry options such as min_time)."""
    for name, b in results.items():
        if name.startswith(prefix) and name.endswith(suffix):
            return b
    raise KeyError(f"no benchmark named {prefix}... in {sorted(results)}")


def median_rate(fn, work, reps, warmup=1):
    for _ in range(warmup):
        fn()
    rates = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        rates.append(work / (time.perf_counter() - t))
    return statistics.median(rates)


def interleaved(ctnn_rate, torch_rate, rounds):
    """Rounds of one ctnn measurement followed by one PyTorch measurement: the medians of each side and
    of the per-round ratios, and the lowest and highest ratio."""
    c, t, r = [], [], []
    for _ in range(rounds):
        c.append(ctnn_rate())
        t.append(torch_rate())
        r.append(c[-1] / t[-1])
    return statistics.median(c), statistics.median(t), (statistics.median(r), min(r), max(r))


def torch_basic_block():
    """The BasicBlock class (3x3 conv, BN, ReLU, 3x3 conv, BN, 1x1 conv + BN shortcut, ReLU)."""
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, i, o, s):
            super().__init__()
            self.c1 = nn.Conv2d(i, o, 3, s, 1, bias=False)
            self.b1 = nn.BatchNorm2d(o)
            self.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(o)
            self.sc = nn.Sequential()
            if s != 1 or i != o:
                self.sc = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))

        def forward(self, x):
            return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.sc(x))

    return Block


def torch_resnet18():
    import torch.nn as nn
    import torch.nn.functional as F

    Block = torch_basic_block()

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn = nn.BatchNorm2d(64)
            blocks, i = [], 64
            for o, s in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
                blocks.append(Block(i, o, s))
                i = o
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(512, 10)

        def forward(self, x):
            x = self.blocks(F.relu(self.bn(self.conv(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    return ResNet18()


def torch_small_net():
    """bench/small_net.hpp in PyTorch: a 16-channel stem on 1x28x28, two residual stages to 64."""
    import torch.nn as nn
    import torch.nn.functional as F

    Block = torch_basic_block()

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
            self.bn = nn.BatchNorm2d(16)
            self.blocks = nn.Sequential(Block(16, 32, 2), Block(32, 32, 1), Block(32, 64, 2), Block(64, 64, 1))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.blocks(F.relu(self.bn(self.conv(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    return Small()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64, help="must be 64 for the convolution rows")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="skip the per-convolution rows")
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        sys.exit(f"compare_pytorch.py needs PyTorch, which {sys.executable} cannot import: install Debian's "
                 "python3-torch (apt-get install python3-torch) and run it with /usr/bin/python3")
    torch.set_num_threads(args.threads)
    rows = []  # (what, unit, ctnn, torch, (ratio, lowest, highest) of alternating rounds or None)

    b = args.batch

    def ctnn_rate(name):  # one repetition of one bench_network benchmark
        return lambda: pick(ctnn_bench(args.build, "bench_network", name, args.threads, 1), name)["img/s"]

    def torch_rate(fn, work):  # the median of 5 timed calls, after 2 untimed ones
        return lambda: median_rate(fn, work, 5, 2)

    m = torch_resnet18()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(b, 3, 32, 32)
    y = torch.randint(0, 10, (b,))

    def step():
        m.train()
        opt.zero_grad(set_to_none=False)
        F.cross_entropy(m(x), y).backward()
        opt.step()

    def infer():
        m.eval()
        with torch.no_grad():
            m(x)

    rows.append((f"ResNet-18 train step, batch {b}", "img/s",
                 *interleaved(ctnn_rate(f"BM_resnet18_train_step/{b}/"), torch_rate(step, b), args.reps)))
    rows.append((f"ResNet-18 inference, batch {b}", "img/s",
                 *interleaved(ctnn_rate(f"BM_resnet18_inference/{b}/"), torch_rate(infer, b), args.reps)))

    sm = torch_small_net()
    sopt = torch.optim.SGD(sm.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sx = torch.randn(128, 1, 28, 28)
    sy = torch.randint(0, 10, (128,))

    def small_step():
        sm.train()
        sopt.zero_grad(set_to_none=False)
        F.cross_entropy(sm(sx), sy).backward()
        sopt.step()

    def small_infer():
        sm.eval()
        with torch.no_grad():
            sm(sx)

    rows.append(("small net (1x28x28) train step, batch 128", "img/s",
                 *interleaved(ctnn_rate("BM_small_train_step/128/"), torch_rate(small_step, 128), args.reps)))
    rows.append(("small net (1x28x28) inference, batch 128", "img/s",
                 *interleaved(ctnn_rate("BM_small_inference/128/"), torch_rate(small_infer, 128), args.reps)))

    if not args.quick and b == 64:
        convs = ctnn_bench(args.build, "bench_conv", "BM_conv_(forward|backward|backward_data|backward_filter)/",
                           args.threads, args.reps)
        for (ci, co, hw, k, s) in CONVS:
            key = f"in:{ci}/out:{co}/hw:{hw}/k:{k}/s:{s}/"
            xt = torch.randn(64, ci, hw, hw, requires_grad=True)
            wt = torch.randn(co, ci, k, k, requires_grad=True)
            ho = (hw + 2 * (k // 2) - k) // s + 1
            flops = 2.0 * 64 * co * ho * ho * ci * k * k
            with torch.no_grad():
                fwd = median_rate(lambda: F.conv2d(xt, wt, stride=s, padding=k // 2), flops, args.reps) / 1e9
            out = F.conv2d(xt, wt, stride=s, padding=k // 2)
            gy = torch.randn_like(out)
            # grad asks for the listed inputs only, so the backward computes just those gradients.
            def grad(wrt, work):
                return median_rate(lambda: torch.autograd.grad(out, wrt, gy, retain_graph=True), work,
                                   args.reps) / 1e9

            name = f"conv {ci}->{co} {k}x{k}/{s} @{hw}"
            for suffix, bench, torch_gflops in [(" fwd", "BM_conv_forward/", fwd),
                                                (" bwd data", "BM_conv_backward_data/", grad((xt,), flops)),
                                                (" bwd filter", "BM_conv_backward_filter/", grad((wt,), flops)),
                                                (" bwd", "BM_conv_backward/", grad((xt, wt), 2 * flops))]:
                c = pick(convs, bench + key)["GFLOP/s"] / 1e9
                rows.append((name + suffix, "GFLOP/s", c, torch_gflops, None))

    print(f"ctnn vs PyTorch {torch.__version__}, {args.threads} threads, median of {args.reps} "
          f"(networks: {args.reps} alternating rounds, ratio range over the rounds)")
    print(f"{'':44} {'unit':>8} {'ctnn':>10} {'PyTorch':>10} {'ratio':>7}  {'range':>11}")
    for what, unit, c, t, spread in rows:
        ratio, lo, hi = spread if spread else (c / t, None, None)
        extra = f"  {lo:5.2f}-{hi:<5.2f}" if spread else ""
        print(f"{what:44} {unit:>8} {c:10.1f} {t:10.1f} {ratio:7.2f}{extra}")


if __name__ == "__main__":
    main()
