#!/usr/bin/env python3
"""Plot a ctnn training history CSV (epoch, lr, train_loss, train_acc, test_loss, test_acc, seconds)
as a PNG with loss and error (100 - accuracy) against epoch, for train and test.

usage: scripts/plot_history.py history.csv [out.png]
"""
import csv
import sys


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    src = argv[1]
    out = argv[2] if len(argv) > 2 else src.rsplit(".", 1)[0] + ".png"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_history.py needs matplotlib: apt-get install python3-matplotlib", file=sys.stderr)
        return 1

    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"{src}: no epochs recorded yet", file=sys.stderr)
        return 1

    def col(name):
        return [float(r[name]) for r in rows]

    epoch = col("epoch")
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax_loss.plot(epoch, col("train_loss"), label="train")
    ax_loss.plot(epoch, col("test_loss"), label="test")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title("Loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)

    ax_err.plot(epoch, [100 - a for a in col("train_acc")], label="train")
    ax_err.plot(epoch, [100 - a for a in col("test_acc")], label="test")
    ax_err.set_xlabel("epoch")
    ax_err.set_ylabel("top-1 error (%)")
    ax_err.set_title(f"Error (best test accuracy {max(col('test_acc')):.2f}%)")
    ax_err.legend()
    ax_err.grid(alpha=0.3)

    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
