#!/usr/bin/env python3
"""Read a ctnn checkpoint (Network::save, io::save_checkpoint) without C++: print what it holds,
dump it as JSON, or convert its tensors to safetensors or NumPy's .npz. Needs only the Python
standard library (numpy for --to-npz); any python3 runs it.

usage: scripts/read_ctnn_checkpoint.py FILE                       summary: architecture, tensors, training state
       scripts/read_ctnn_checkpoint.py FILE --json [--values]     the same as JSON (--values: every value too)
       scripts/read_ctnn_checkpoint.py FILE --to-safetensors OUT  parameters and buffers as F32 safetensors
       scripts/read_ctnn_checkpoint.py FILE --to-npz OUT          the same as a NumPy .npz
       --no-checksum                                              skip the FNV-1a check (large files: faster)

The format is described at the top of include/ctnn/io/format.hpp (version 1). The file is checked
as ctnn checks it: magic, version, recorded file size, section names and sizes, and the trailing
checksum; a bad file exits with status 1 and a message naming the file, the byte offset and what
was expected there.

The checkpoint records each tensor's element count, not its shape (the shape is part of the
network's type), so converted tensors are one-dimensional and keep ctnn's names ("0.weight",
"3.0.main.0.weight", ...); reshape them to the model's parameters in Python (e.g.
torch.from_numpy(a).view_as(param)). For shaped tensors under PyTorch's names, save from C++ with
ctnn::io::save_safetensors and a name map instead.
"""
import argparse
import json
import math
import struct
import sys
from array import array

MAGIC = b"CTNNCKPT"
VERSION = 1
SECTIONS = ["parameters", "buffers", "optimizer", "training"]
FNV_OFFSET, FNV_PRIME, MASK64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


class BadFile(Exception):
    pass


def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


class Reader:
    """Bounds-checked little-endian reads from the file's bytes."""

    def __init__(self, path, data, end):
        self.path, self.data, self.pos, self.end = path, data, 0, end

    def fail(self, what, at=None):
        raise BadFile(f"{self.path}: {what} at byte offset {self.pos if at is None else at}")

    def take(self, n, what):
        if n > self.end - self.pos:
            self.fail(f"truncated: expected {what} ({n} bytes) but only {self.end - self.pos} remain")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u32(self, what):
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what):
        return struct.unpack("<Q", self.take(8, what))[0]

    def f64(self, what):
        return struct.unpack("<d", self.take(8, what))[0]

    def str(self, what):
        at = self.pos
        n = self.u64(f"the length of {what}")
        if n > self.end - self.pos:
            self.fail(f"{what} records {n} bytes but only {self.end - self.pos} remain", at)
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{what} is not UTF-8", at)

    def tensors(self, section):
        count = self.u64(f"the tensor count of section '{section}'")
        out = []
        for i in range(count):
            name = self.str(f"the name of tensor {i} of section '{section}'")
            n = self.u64(f"the value count of tensor '{name}'")
            if n > (self.end - self.pos) // 4:
                self.fail(f"tensor '{name}' records {n} values but only {(self.end - self.pos) // 4} fit in what remains")
            values = array("f")
            values.frombytes(self.take(4 * n, f"the values of tensor '{name}'"))
            if sys.byteorder != "little":
                values.byteswap()
            out.append((name, values))
        return out


def read_checkpoint(path, verify_checksum=True):
    """Returns a dict: architecture, signature_hash, full, parameters, buffers (lists of (name, array('f'))),
    and for a full checkpoint optimizer_steps, optimizer, training. Raises BadFile."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 52:
        raise BadFile(f"{path}: {len(data)} bytes, shorter than any ctnn checkpoint (52 bytes)")
    r = Reader(path, data, len(data) - 8)
    if r.take(8, "the magic") != MAGIC:
        r.fail("not a ctnn checkpoint: expected the magic 'CTNNCKPT'", 0)
    version = r.u32("the format version")
    if version != VERSION:
        r.fail(f"format version {version}; this script reads version {VERSION}", 8)
    size = r.u64("the file size")
    if size != len(data):
        r.fail(f"the file records {size} bytes but is {len(data)} bytes (truncated or extended)", 12)
    recorded = struct.unpack("<Q", data[-8:])[0]
    if verify_checksum and fnv1a64(data[:-8]) != recorded:
        r.fail("the checksum does not match the contents (the file is corrupt)", len(data) - 8)
    out = {"path": path, "format_version": version, "signature_hash": r.u64("the architecture signature hash")}
    out["architecture"] = r.str("the architecture")
    at = r.pos
    sections = r.u64("the section count")
    if sections not in (2, 4):
        r.fail(f"{sections} sections; expected 2 (weights) or 4 (full checkpoint)", at)
    out["full"] = sections == 4
    for expected in SECTIONS[:sections]:
        at = r.pos
        name = r.str("a section name")
        if name != expected:
            r.fail(f"section '{name}' where '{expected}' was expected", at)
        body = r.u64(f"the size of section '{name}'")
        if body > r.end - r.pos:
            r.fail(f"section '{name}' records {body} bytes but only {r.end - r.pos} remain")
        start, outer_end = r.pos, r.end
        r.end = start + body
        if name in ("parameters", "buffers"):
            out[name] = r.tensors(name)
        elif name == "optimizer":
            out["optimizer_steps"] = r.u64("the optimizer step count")
            out["optimizer"] = r.tensors(name)
        else:
            t = {"epoch": r.u64("the epoch"), "step": r.u64("the step")}
            t["rng_state"] = [r.u64("the random generator state") for _ in range(4)]
            t["metrics"] = {}
            for _ in range(r.u64("the metric count")):
                key = r.str("a metric name")
                t["metrics"][key] = r.f64(f"the value of metric '{key}'")
            t["notes"] = {}
            for _ in range(r.u64("the note count")):
                key = r.str("a note name")
                t["notes"][key] = r.str(f"the text of note '{key}'")
            out["training"] = t
        if r.pos != r.end:
            r.fail(f"section '{name}' has {r.end - r.pos} bytes its contents do not account for")
        r.end = outer_end
    if r.pos != r.end:
        r.fail(f"{r.end - r.pos} unexpected bytes before the checksum")
    return out


def stats(values):
    if not values:
        return {"count": 0}
    finite = [v for v in values if math.isfinite(v)]
    mean = sum(finite) / len(finite) if finite else float("nan")
    return {"count": len(values), "min": min(finite, default=float("nan")), "max": max(finite, default=float("nan")),
            "mean": mean, "non_finite": len(values) - len(finite)}


def json_float(v):
    # JSON has no NaN or infinity; write those as strings.
    return v if math.isfinite(v) else repr(v)


def as_json(ckpt, with_values):
    out = {k: ckpt[k] for k in ("path", "format_version", "signature_hash", "architecture", "full")}
    lists = ["parameters", "buffers"] + (["optimizer"] if ckpt["full"] else [])
    for section in lists:
        out[section] = []
        for name, values in ckpt[section]:
            entry = {"name": name, **{k: json_float(v) if isinstance(v, float) else v for k, v in stats(values).items()}}
            if with_values:
                entry["values"] = [json_float(v) for v in values]
            out[section].append(entry)
    if ckpt["full"]:
        out["optimizer_steps"] = ckpt["optimizer_steps"]
        t = dict(ckpt["training"])
        t["metrics"] = {k: json_float(v) for k, v in t["metrics"].items()}
        out["training"] = t
    return out


def summary(ckpt):
    lines = [f"{ckpt['path']}: ctnn checkpoint, format version {ckpt['format_version']}, "
             f"{'full (weights, optimizer, training state)' if ckpt['full'] else 'weights'}",
             f"architecture: {ckpt['architecture']}"]
    for section in ["parameters", "buffers"] + (["optimizer"] if ckpt["full"] else []):
        tensors = ckpt[section]
        lines.append(f"{section}: {len(tensors)} tensors, {sum(len(v) for _, v in tensors)} values")
        for name, values in tensors:
            s = stats(values)
            extra = f"  min {s['min']:.4g}  max {s['max']:.4g}  mean {s['mean']:.4g}" if s["count"] else ""
            if s.get("non_finite"):
                extra += f"  NON-FINITE {s['non_finite']}"
            lines.append(f"  {name:<32} {s['count']:>9}{extra}")
    if ckpt["full"]:
        t = ckpt["training"]
        lines.append(f"optimizer steps: {ckpt['optimizer_steps']}")
        lines.append(f"training: epoch {t['epoch']}, step {t['step']}")
        for k, v in t["metrics"].items():
            lines.append(f"  metric {k} = {v!r}")
        for k, v in t["notes"].items():
            lines.append(f"  note {k} = {v}")
    return "\n".join(lines)


def tensors_to_write(ckpt):
    return ckpt["parameters"] + ckpt["buffers"]


def write_safetensors(ckpt, dst):
    header = {"__metadata__": {"format": "pt", "producer": "ctnn read_ctnn_checkpoint.py",
                               "architecture": ckpt["architecture"]}}
    offset, blobs = 0, []
    for name, values in tensors_to_write(ckpt):
        v = array("f", values)
        if sys.byteorder != "little":
            v.byteswap()
        raw = v.tobytes()
        header[name] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)
    return len(header) - 1


def write_npz(ckpt, dst):
    import numpy as np
    arrays = {name: np.frombuffer(values.tobytes(), dtype=np.float32) for name, values in tensors_to_write(ckpt)}
    np.savez(dst, **arrays)
    return len(arrays)


def main(argv):
    ap = argparse.ArgumentParser(description="Inspect or convert a ctnn checkpoint (see the module notes).")
    ap.add_argument("file")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the summary")
    ap.add_argument("--values", action="store_true", help="with --json: include every value")
    ap.add_argument("--to-safetensors", metavar="OUT")
    ap.add_argument("--to-npz", metavar="OUT")
    ap.add_argument("--no-checksum", action="store_true", help="do not verify the trailing checksum")
    args = ap.parse_args(argv[1:])
    try:
        ckpt = read_checkpoint(args.file, verify_checksum=not args.no_checksum)
    except (BadFile, OSError) as e:
        print(f"read_ctnn_checkpoint.py: {e}", file=sys.stderr)
        return 1
    if args.to_safetensors:
        n = write_safetensors(ckpt, args.to_safetensors)
        print(f"wrote {args.to_safetensors}: {n} tensors (F32, one-dimensional, ctnn's names)")
    if args.to_npz:
        try:
            n = write_npz(ckpt, args.to_npz)
        except ImportError:
            print("read_ctnn_checkpoint.py: --to-npz needs numpy (pip install numpy, or Debian's python3-numpy)",
                  file=sys.stderr)
            return 1
        print(f"wrote {args.to_npz}: {n} arrays")
    if args.json:
        json.dump(as_json(ckpt, args.values), sys.stdout, indent=1)
        print()
    elif not (args.to_safetensors or args.to_npz):
        print(summary(ckpt))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
