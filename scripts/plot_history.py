#!/usr/bin/env python3
"""Plot a ctnn training history CSV (epoch, lr, train_loss, train_acc, test_loss, test_acc, seconds
[, ema_test_loss, ema_test_acc]) as a PNG of three panels against epoch: loss, top-1 error
(100 - accuracy) and learning rate, train and test (and the EMA's test curve when recorded).

The figure has an opaque white background and dark text, with colour-blind-safe line colours, so it
reads the same on a dark or a light page.

usage: scripts/plot_history.py history.csv [out.png]
Needs matplotlib (Debian: python3-matplotlib, for /usr/bin/python3).
"""
import csv
import sys

COLORS = {"train": "#0072B2", "test": "#D55E00", "ema": "#009E73", "lr": "#555555"}  # Okabe-Ito


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
        print("plot_history.py needs matplotlib: apt-get install python3-matplotlib (and run /usr/bin/python3)",
              file=sys.stderr)
        return 1

    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"{src}: no epochs recorded yet", file=sys.stderr)
        return 1
    missing = [c for c in ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc") if c not in rows[0]]
    if missing:
        print(f"{src}: not a ctnn history file (missing columns: {', '.join(missing)})", file=sys.stderr)
        return 1

    def col(name):
        return [float(r[name]) for r in rows]

    ema = "ema_test_acc" in rows[0]
    epoch = col("epoch")
    plt.rcParams.update({"figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
                         "text.color": "#111111", "axes.labelcolor": "#111111", "xtick.color": "#111111",
                         "ytick.color": "#111111", "axes.edgecolor": "#444444"})
    fig, (ax_loss, ax_err, ax_lr) = plt.subplots(1, 3, figsize=(15, 4.2))
    ax_loss.plot(epoch, col("train_loss"), color=COLORS["train"], label="train")
    ax_loss.plot(epoch, col("test_loss"), color=COLORS["test"], label="test")
    if ema:
        ax_loss.plot(epoch, col("ema_test_loss"), color=COLORS["ema"], linestyle="--", label="test (EMA)")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title("Loss")

    ax_err.plot(epoch, [100 - a for a in col("train_acc")], color=COLORS["train"], label="train")
    ax_err.plot(epoch, [100 - a for a in col("test_acc")], color=COLORS["test"], label="test")
    best = max(col("test_acc"))
    if ema:
        ax_err.plot(epoch, [100 - a for a in col("ema_test_acc")], color=COLORS["ema"], linestyle="--", label="test (EMA)")
        best = max(best, max(col("ema_test_acc")))
    ax_err.set_xlabel("epoch")
    ax_err.set_ylabel("top-1 error (%)")
    ax_err.set_title(f"Error (best test accuracy {best:.2f}%)")

    ax_lr.plot(epoch, col("lr"), color=COLORS["lr"], label="learning rate (end of epoch)")
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_title("Learning rate")

    for ax in (ax_loss, ax_err, ax_lr):
        ax.grid(alpha=0.3)
        ax.legend(frameon=True, facecolor="white", edgecolor="#cccccc")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
