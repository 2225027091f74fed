#!/usr/bin/env python3
"""Plot a confusion matrix CSV written by ctnn_predict --eval (rows: true class, columns: predicted
class, counts) as a labelled PNG: each cell is shaded by its share of the row (the recall of the
true class on the diagonal) and shows the count; opaque white background, readable on dark or light
pages.

usage: scripts/plot_confusion.py confusion.csv [out.png]
Needs matplotlib (Debian: python3-matplotlib, for /usr/bin/python3).
"""
import csv
import sys


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    src = argv[1]
    out = argv[2] if len(argv) > 2 else src.rsplit(".", 1)[0] + "_labelled.png"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_confusion.py needs matplotlib: apt-get install python3-matplotlib (and run /usr/bin/python3)",
              file=sys.stderr)
        return 1
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2 or len(rows[0]) != len(rows):
        print(f"{src}: not a square confusion matrix with a header row", file=sys.stderr)
        return 1
    names = rows[0][1:]
    counts = [[int(v) for v in r[1:]] for r in rows[1:]]
    shares = [[c / max(sum(r), 1) for c in r] for r in counts]
    total = sum(map(sum, counts))
    hits = sum(counts[i][i] for i in range(len(names)))
    plt.rcParams.update({"figure.facecolor": "white", "savefig.facecolor": "white", "text.color": "#111111"})
    size = max(5.0, 0.55 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix: accuracy {100 * hits / max(total, 1):.2f}% of {total} images")
    for i, r in enumerate(counts):
        for j, c in enumerate(r):
            if c:
                ax.text(j, i, str(c), ha="center", va="center", fontsize=8,
                        color="white" if shares[i][j] > 0.5 else "#111111")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
