#!/usr/bin/env python3
"""PyTorch's side of bench_profile: where a training step of the small 28x28 network (or ResNet-18)
goes in PyTorch, per operator and input shape, in ms per step, to set beside
`build/release/bench/bench_profile --net small --batch 128` layer by layer.

  OMP_NUM_THREADS=2 /usr/bin/python3 bench/profile_pytorch.py --net small --batch 128 --threads 2

Needs Debian's python3-torch (run it with /usr/bin/python3). The networks are compare_pytorch.py's.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", choices=["small", "resnet18"], default="small")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10, help="profiled steps")
    ap.add_argument("--rows", type=int, default=24)
    args = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
        from torch.profiler import ProfilerActivity, profile
    except ImportError:
        sys.exit(f"profile_pytorch.py needs PyTorch, which {sys.executable} cannot import: run it with /usr/bin/python3")
    import compare_pytorch as cp

    torch.set_num_threads(args.threads)
    net = cp.torch_small_net() if args.net == "small" else cp.torch_resnet18()
    shape = (1, 28, 28) if args.net == "small" else (3, 32, 32)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = torch.randn(args.batch, *shape), torch.randint(0, 10, (args.batch,))

    def step():
        opt.zero_grad(set_to_none=False)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"PyTorch {torch.__version__}, {args.net}, batch {args.batch}, {args.threads} threads: "
          f"median step {times[len(times) // 2] * 1e3:.1f} ms (unprofiled)")
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(args.steps):
            step()
    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    for e in events[:args.rows]:
        ms = e.self_cpu_time_total / 1e3 / args.steps
        print(f"{e.key[:30]:30s} {ms:7.3f} ms/step  {str(e.input_shapes[:3])[:80]}")


if __name__ == "__main__":
    main()
