#!/usr/bin/env python3
"""The one table of bench/gpu/device_check.sh: reads the RESULT lines of ctnn's and PyTorch's
benchmark logs and prints img/s, peak GPU memory and ratios for batch 128 and 512 as Markdown,
then the issue's goals with their measured ratios and the 1-epoch training check.

  results_table.py LOG... [--tests-status N] [--tests-skipped]

RESULT lines: "RESULT <name> <batch> <img/s> <peak MiB>" (benchmarks) and "RESULT <name> <value>"
(train_first_loss, train_last_loss, train_img_per_s). Missing measurements print as "-".
"""
import argparse
import sys

ROWS = [
    ("ctnn_fp32_eager", "ctnn fp32 (TF32 off), eager"),
    ("ctnn_fp32_graph", "ctnn fp32 (TF32 off), CUDA graph"),
    ("ctnn_bf16_graph", "ctnn bf16, CUDA graph"),
    ("torch_fp32", "PyTorch fp32 (fp32_precision ieee), eager"),
    ("torch_bf16_cl", "PyTorch channels_last + bf16 autocast, eager"),
    ("torch_bf16_cl_compile", "PyTorch channels_last + bf16 autocast, torch.compile"),
]
BATCHES = (128, 512)
# (numerator, denominator, batch, goal): the targets.
GOALS = [
    ("ctnn_bf16_graph", "torch_bf16_cl", 512, 1.3),
    ("ctnn_bf16_graph", "torch_bf16_cl_compile", 512, 1.0),
    ("ctnn_fp32_graph", "torch_fp32", 128, 1.5),
]


def read(paths):
    bench, single = {}, {}
    for path in paths:
        try:
            lines = open(path, errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            p = line.split()
            if not p or p[0] != "RESULT":
                continue
            try:
                if len(p) == 5:
                    bench[(p[1], int(p[2]))] = (float(p[3]), float(p[4]))
                elif len(p) == 3:
                    single[p[1]] = float(p[2])
            except ValueError:
                pass
    return bench, single


def table(bench, single, tests_status=None, tests_skipped=False):
    out = []
    rate = lambda k, b: bench[(k, b)][0] if (k, b) in bench else None
    fmt = lambda v, spec="{:.0f}": "-" if v is None else spec.format(v)

    def ratio(a, b, batch):
        x, y = rate(a, batch), rate(b, batch)
        return None if x is None or not y else x / y

    out.append("ResNet-18 CIFAR-10 training step (forward, cross-entropy, backward, SGD with Nesterov momentum), "
               "median img/s, peak GPU memory of the timed steps (ctnn: what it allocated; PyTorch: "
               "max_memory_allocated)")
    out.append("")
    head = "| configuration |"
    rule = "|---|"
    for b in BATCHES:
        head += f" img/s b{b} | MiB b{b} | x PyTorch fp32 b{b} |"
        rule += "---:|---:|---:|"
    out += [head, rule]
    for key, label in ROWS:
        row = f"| {label} |"
        for b in BATCHES:
            mem = bench[(key, b)][1] if (key, b) in bench else None
            row += f" {fmt(rate(key, b))} | {fmt(mem)} | {fmt(ratio(key, 'torch_fp32', b), '{:.2f}')} |"
        out.append(row)
    out.append("")
    out.append("| goal | measured | target | met |")
    out.append("|---|---:|---:|---|")
    for a, b, batch, goal in GOALS:
        r = ratio(a, b, batch)
        met = "-" if r is None else ("yes" if r >= goal else "no")
        out.append(f"| {a} / {b}, batch {batch} | {fmt(r, '{:.2f}')} | >= {goal:.1f} | {met} |")
    bf16 = rate("ctnn_bf16_graph", 512)
    met = "-" if bf16 is None else ("yes" if bf16 >= 50000 else "no")
    out.append(f"| ctnn bf16 graph img/s, batch 512 | {fmt(bf16)} | >= 50000 | {met} |")
    out.append("")
    if "train_first_loss" in single and "train_last_loss" in single:
        first, last = single["train_first_loss"], single["train_last_loss"]
        fell = last == last and last < 0.8 * first
        out.append(f"1 epoch on synthetic CIFAR (cuda::DeviceLoader + DeviceStep, graph): loss {first:.4f} -> {last:.4f} "
                   f"({'falls' if fell else 'DOES NOT FALL'}), {fmt(single.get('train_img_per_s'))} img/s")
    else:
        out.append("1 epoch on synthetic CIFAR: no result")
    if tests_status is not None:
        status = ("SKIPPED (no GPU)" if tests_skipped else "passed" if tests_status == 0
                  else f"FAILED (exit status {tests_status})")
        out.append(f"CUDA tests: {status}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--tests-status", type=int)
    ap.add_argument("--tests-skipped", action="store_true")
    a = ap.parse_args()
    bench, single = read(a.logs)
    print(table(bench, single, a.tests_status, a.tests_skipped))


if __name__ == "__main__":
    sys.exit(main())
