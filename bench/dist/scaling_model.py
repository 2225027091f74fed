#!/usr/bin/env python3
"""Predicts data-parallel scaling from a measured backward timeline (bench/dist/run.sh writes it).

The model: the gradient buckets become ready during backward at the measured times; their sums
run one after another on the link (a ring all-reduce of S bytes on N processes takes
2 (N-1) alpha + 2 (N-1)/N S / B, B the bus bandwidth, alpha the per-step latency); a bucket starts
when it is ready and the previous one is done. What is left after backward ends is exposed:
step(N) = step(1) + exposed, and the weak-scaling efficiency (same batch per process) is
step(1) / step(N). Compute slowed down by the communication and the optimizer are not modelled.

First the model is checked on the machine it was measured on: alpha and B fitted to the sums
alone (BM_allreduce), the predicted exposed time against the measured one (BM_step). Then the
timeline is scaled to a GPU step and the model applied to 8 GPUs over NVLink and over 100 Gb/s
Ethernet, with the link figures given below (assumptions, overridable).

  python3 bench/dist/scaling_model.py timeline.json --measured many.json [--single one.json]
Standard library only.
"""
import argparse
import json
import statistics


def allreduce_ms(nbytes, n, alpha_ms, bus_bytes_per_ms):
    if n == 1:
        return 0.0
    return 2 * (n - 1) * alpha_ms + 2 * (n - 1) / n * nbytes / bus_bytes_per_ms


def exposed_ms(buckets, backward_ms, n, alpha_ms, bus_bytes_per_ms):
    """buckets: [(bytes, ready_ms)] in start order."""
    link_free = 0.0
    for nbytes, ready in buckets:
        start = max(ready, link_free)
        link_free = start + allreduce_ms(nbytes, n, alpha_ms, bus_bytes_per_ms)
    return max(0.0, link_free - backward_ms)


def medians(path, prefix):
    """name -> the median run of a Google Benchmark JSON file, for names starting with prefix."""
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median" and b["run_name"].startswith(prefix):
            out[b["run_name"]] = b
    return out


def fit_link(runs, n):
    """Least squares t = a + b S over the BM_allreduce medians: alpha = a / (2 (N-1)), B = 2 (N-1)/N / b."""
    pts = []
    for name, b in runs.items():
        mb = int(name.split("MB:")[1].split("/")[0])
        pts.append((mb * (1 << 20), b["real_time"]))  # ms (Unit: millisecond)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x in xs)
    intercept = my - slope * mx
    alpha = max(intercept, 0.0) / (2 * (n - 1))
    bus = 2 * (n - 1) / n / slope  # bytes per ms
    return alpha, bus, pts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("timeline")
    ap.add_argument("--measured", help="Google Benchmark JSON of the multi-process run")
    ap.add_argument("--single", help="Google Benchmark JSON of the one-process run")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--gpu-step-ms", type=float, nargs="+", default=[2.56, 10.24],
                    help="GPU step times to model (default: 50,000 img/s at 128 and at 512 images per GPU)")
    ap.add_argument("--nvlink-gbs", type=float, default=360.0, help="NVLink/NVSwitch all-reduce bus bandwidth, GB/s")
    ap.add_argument("--nvlink-alpha-us", type=float, default=10.0)
    ap.add_argument("--ethernet-gbs", type=float, default=11.0, help="100 Gb/s Ethernet (RoCE) bus bandwidth, GB/s")
    ap.add_argument("--ethernet-alpha-us", type=float, default=30.0)
    a = ap.parse_args()

    with open(a.timeline) as f:
        t = json.load(f)
    n = t["processes"]
    buckets = [(b["bytes"], b["ready_ms"]) for b in t["buckets"]]
    backward = t["backward_ms"]
    total = sum(b for b, _ in buckets)
    print(f"timeline: {n} processes, global batch {t['global_batch']}, backward {backward:.1f} ms, "
          f"{len(buckets)} buckets, {total / 1e6:.1f} MB of gradients")
    for i, (nbytes, ready) in enumerate(buckets):
        print(f"  bucket {i}: {nbytes / 1e6:6.2f} MB ready at {ready:7.1f} ms ({100 * ready / backward:5.1f}% of backward)")

    step_cpu = None
    if a.measured:
        link = medians(a.measured, "BM_allreduce")
        steps = medians(a.measured, "BM_step")
        alpha, bus, pts = fit_link(link, n)
        print(f"\nthis machine, {n} processes: sums alone " +
              ", ".join(f"{s / (1 << 20):.0f} MB {ms:.2f} ms" for s, ms in sorted(pts)) +
              f" -> alpha {alpha * 1000:.1f} us, bus bandwidth {bus / 1e6:.2f} GB/s")
        predicted = exposed_ms(buckets, backward, n, alpha, bus)
        key = [k for k in steps if "bucket_mb:25/overlap:1" in k]
        if key:
            m = steps[key[0]]
            step_cpu = m["real_time"]
            print(f"check: exposed communication at 25 MB buckets, overlapped: predicted {predicted:.1f} ms, "
                  f"measured {m['exposed_ms']:.1f} ms (finish() also averages: a copy of {total / 1e6:.0f} MB)")
            print("\n| bucket MB | overlap | step ms | exposed ms | backward ms | img/s |")
            print("|---:|---:|---:|---:|---:|---:|")
            for k in sorted(steps, key=lambda k: (int(k.split("bucket_mb:")[1].split("/")[0]), k)):
                s = steps[k]
                mb = k.split("bucket_mb:")[1].split("/")[0]
                ov = k.split("overlap:")[1].split("/")[0]
                print(f"| {mb} | {ov} | {s['real_time']:.0f} | {s['exposed_ms']:.1f} | {s['backward_ms']:.0f} | {s['img/s']:.0f} |")
    if a.single:
        one = medians(a.single, "BM_step")
        if one:
            s1 = list(one.values())[0]
            line = f"\n1 process x all threads: step {s1['real_time']:.0f} ms, {s1['img/s']:.0f} img/s"
            if step_cpu:
                line += f"; {n} processes x 1 thread at 25 MB buckets: {step_cpu:.0f} ms ({s1['real_time'] / step_cpu:.2f}x)"
            print(line)

    # The GPU prediction: the same buckets, ready at the same fractions of a GPU's backward.
    share = backward / step_cpu if step_cpu else 0.6
    print(f"\nmodel for {a.gpus} GPUs (backward = {100 * share:.0f}% of the step, as measured here; fp32 gradients, "
          f"{total / 1e6:.1f} MB per step; 25 MB buckets as in the timeline)")
    print("\n| link | bus GB/s | alpha us | GPU step ms | all-reduce ms (alone) | exposed ms | efficiency |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, gbs, alpha_us in (("NVLink/NVSwitch", a.nvlink_gbs, a.nvlink_alpha_us),
                                ("100 Gb/s Ethernet", a.ethernet_gbs, a.ethernet_alpha_us)):
        bus = gbs * 1e6  # bytes per ms
        alpha = alpha_us / 1000
        for step in a.gpu_step_ms:
            bwd = share * step
            scaled = [(nbytes, ready / backward * bwd) for nbytes, ready in buckets]
            e = exposed_ms(scaled, bwd, a.gpus, alpha, bus)
            alone = sum(allreduce_ms(nb, a.gpus, alpha, bus) for nb, _ in buckets)
            print(f"| {name} | {gbs:g} | {alpha_us:g} | {step:g} | {alone:.2f} | {e:.2f} | {100 * step / (step + e):.0f}% |")


if __name__ == "__main__":
    main()
