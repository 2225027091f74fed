#!/usr/bin/env python3
"""Predicts data-parallel scaling from a measured backward timeline (bench/dist/run.sh writes it).

The model: the gradient buckets become ready during backward at the measured times; their sums
run one after another on the link (a ring all-reduce of S bytes on N processes takes
2 (N-1) alpha + 2 (N-1)/N S / B, B the bus bandwidth, alpha the per-step latency); a bucket starts
when it is ready and the previous one is done. What is left after backward ends is exposed:
step(N) = step(1) + exposed, and the weak-scaling efficiency (same batch per process) is
step(1) / step(N). Compute slowed down by the communication and the optimizer are not modelled.

Each parameter's measured ready time lets the model re-form the buckets at any size, as
DataParallel does (reverse order, a bucket closes once it holds bucket_bytes). finish() then
averages in place: on the CPU its measured time (averaging_ms) is added; on a GPU it is a pass
over the gradients at HBM speed.

First the model is checked on the machine it was measured on: alpha and B fitted to the sums
alone (BM_allreduce), the predicted exposed time against the measured one (BM_step) at every
bucket size. Then the timeline is scaled to a GPU step and the model applied to 8 GPUs over
NVLink and over 100 Gb/s Ethernet, with the link figures given below (assumptions, overridable).
On the CPU an MPI sum progresses only while a process is inside MPI (DataParallel polls at every
layer boundary); NCCL progresses on the GPU by itself, so the model assumes full progress.

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


def rebucket(params, bucket_bytes):
    """params: [(bytes, ready_ms)] in reverse order -> [(bytes, ready_ms)] per bucket."""
    out, nbytes, ready = [], 0, 0.0
    for b, r in params:
        nbytes += b
        ready = max(ready, r)
        if nbytes >= bucket_bytes:
            out.append((nbytes, ready))
            nbytes, ready = 0, 0.0
    if nbytes:
        out.append((nbytes, ready))
    return out


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
    ap.add_argument("--bucket-mb", type=float, nargs="+", default=[1, 5, 25, 100])
    ap.add_argument("--gpu-step-ms", type=float, nargs="+", default=[2.56, 10.24],
                    help="GPU step times to model (default: 50,000 img/s at 128 and at 512 images per GPU)")
    ap.add_argument("--nvlink-gbs", type=float, default=360.0, help="NVLink/NVSwitch all-reduce bus bandwidth, GB/s")
    ap.add_argument("--nvlink-alpha-us", type=float, default=10.0)
    ap.add_argument("--ethernet-gbs", type=float, default=11.0, help="100 Gb/s Ethernet (RoCE) bus bandwidth, GB/s")
    ap.add_argument("--ethernet-alpha-us", type=float, default=30.0)
    ap.add_argument("--hbm-gbs", type=float, default=4000.0, help="GPU memory bandwidth for the averaging pass, GB/s")
    a = ap.parse_args()

    with open(a.timeline) as f:
        t = json.load(f)
    n = t["processes"]
    params = [(p["bytes"], p["ready_ms"]) for p in t["parameters"]]
    backward = t["backward_ms"]
    total = sum(b for b, _ in params)
    print(f"timeline: {n} processes, global batch {t['global_batch']}, backward {backward:.1f} ms, "
          f"{len(params)} parameters, {total / 1e6:.1f} MB of gradients")
    for i, (nbytes, ready) in enumerate(rebucket(params, 25 << 20)):
        print(f"  25 MB bucket {i}: {nbytes / 1e6:6.2f} MB ready at {ready:7.1f} ms ({100 * ready / backward:5.1f}% of backward)")

    step_cpu = None
    if a.measured:
        link = medians(a.measured, "BM_allreduce")
        steps = medians(a.measured, "BM_step")
        alpha, bus, pts = fit_link(link, n)
        print(f"\nthis machine, {n} processes: sums alone " +
              ", ".join(f"{s / (1 << 20):.0f} MB {ms:.2f} ms" for s, ms in sorted(pts)) +
              f" -> alpha {alpha * 1000:.1f} us, bus bandwidth {bus / 1e6:.2f} GB/s")
        def run(mb, overlap):
            k = [k for k in steps if f"bucket_mb:{mb}/overlap:{overlap}/" in k]
            return steps[k[0]] if k else None
        base = run(25, 1)
        averaging = base["averaging_ms"] if base else 0.0
        print(f"finish()'s averaging pass (measured): {averaging:.1f} ms")
        print("\n| bucket MB | buckets | step ms, overlapped | step ms, after backward | exposed ms, overlapped (model) | exposed ms, after backward | hidden | img/s |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for mb in a.bucket_mb:
            mb = int(mb)
            on, off = run(mb, 1), run(mb, 0)
            if not on or not off:
                continue
            model = exposed_ms(rebucket(params, mb << 20), backward, n, alpha, bus) + averaging
            hidden = 1 - on["exposed_ms"] / off["exposed_ms"] if off["exposed_ms"] > 0 else 0
            print(f"| {mb} | {on['buckets']:.0f} | {on['real_time']:.0f} | {off['real_time']:.0f} | {on['exposed_ms']:.1f} ({model:.1f}) | "
                  f"{off['exposed_ms']:.1f} | {100 * hidden:.0f}% | {on['img/s']:.0f} |")
            if mb == 25:
                step_cpu = on["real_time"]
    if a.single:
        one = medians(a.single, "BM_step")
        if one:
            s1 = list(one.values())[0]
            line = f"\n1 process x all threads: step {s1['real_time']:.0f} ms, {s1['img/s']:.0f} img/s"
            if step_cpu:
                line += f"; {n} processes x 1 thread at 25 MB buckets: {step_cpu:.0f} ms ({s1['real_time'] / step_cpu:.2f}x its speed)"
            print(line)

    # The GPU prediction: the parameters ready at the same fractions of a GPU's backward.
    share = backward / step_cpu if step_cpu else 0.6
    print(f"\nmodel for {a.gpus} GPUs, same batch per GPU (backward = {100 * share:.0f}% of the step, as measured here; "
          f"fp32 gradients, {total / 1e6:.1f} MB per step; averaging at {a.hbm_gbs:g} GB/s)")
    print("\n| link | bus GB/s | alpha us | GPU step ms | bucket MB | all-reduce ms (alone) | exposed ms | efficiency |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    averaging_gpu = 2 * total / (a.hbm_gbs * 1e6)
    for name, gbs, alpha_us in (("NVLink/NVSwitch", a.nvlink_gbs, a.nvlink_alpha_us),
                                ("100 Gb/s Ethernet", a.ethernet_gbs, a.ethernet_alpha_us)):
        bus = gbs * 1e6  # bytes per ms
        alpha = alpha_us / 1000
        for step in a.gpu_step_ms:
            bwd = share * step
            scaled = [(nbytes, ready / backward * bwd) for nbytes, ready in params]
            for mb in a.bucket_mb:
                buckets = rebucket(scaled, mb * (1 << 20))
                e = exposed_ms(buckets, bwd, a.gpus, alpha, bus) + averaging_gpu
                alone = sum(allreduce_ms(nb, a.gpus, alpha, bus) for nb, _ in buckets)
                print(f"| {name} | {gbs:g} | {alpha_us:g} | {step:g} | {mb:g} | {alone:.2f} | {e:.2f} | "
                      f"{100 * step / (step + e):.0f}% |")


if __name__ == "__main__":
    main()
