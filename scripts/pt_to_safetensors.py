#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (a state_dict saved with torch.save, or a dict holding one under
'state_dict', 'model' or 'net', as the pytorch-cifar training script saves it) to a safetensors
file that ctnn::io::load_safetensors reads. Needs only torch (not the safetensors package).

usage: scripts/pt_to_safetensors.py model.pt model.safetensors [--dtype F32|BF16|F16]

float tensors are written in --dtype (default: F32); integer tensors (num_batches_tracked) are
skipped; a 'module.' prefix (nn.DataParallel) is removed. Run it with a Python that has torch
(Debian: python3-torch, for /usr/bin/python3).
"""
import json
import struct
import sys


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="PyTorch checkpoint -> safetensors (see the module notes)")
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--dtype", choices=["F32", "BF16", "F16"], default="F32")
    args = ap.parse_args(argv[1:])
    src, dst, dtype = args.src, args.dst, args.dtype
    try:
        import torch
    except ImportError:
        print("pt_to_safetensors.py needs torch: apt-get install python3-torch (and run /usr/bin/python3)", file=sys.stderr)
        return 1
    obj = torch.load(src, map_location="cpu")
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "net"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        print(f"{src}: not a state_dict (a dict of tensors), nor a dict holding one", file=sys.stderr)
        return 1
    torch_dtype = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}[dtype]
    header, blobs, offset = {"__metadata__": {"format": "pt", "source": src}}, [], 0
    for name, t in obj.items():
        if not t.is_floating_point():
            continue
        name = name[len("module."):] if name.startswith("module.") else name
        data = t.detach().to(torch_dtype).contiguous()
        raw = data.view(torch.int16).numpy().tobytes() if dtype != "F32" else data.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)
    print(f"wrote {dst}: {len(header) - 1} tensors, {offset} bytes of {dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
