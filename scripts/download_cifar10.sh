#!/usr/bin/env bash
# Downloads CIFAR-10 (binary version), checks its MD5 and extracts it.
#
#   scripts/download_cifar10.sh [DIR]        DIR defaults to data/
#
# Result: DIR/cifar-10-batches-bin/{data_batch_1..5.bin, test_batch.bin, batches.meta.txt}.
# ctnn::data::Cifar10::load accepts either DIR or DIR/cifar-10-batches-bin. The archive
# (DIR/cifar-10-binary.tar.gz, 163 MiB) is kept so that a rerun does not download again; delete it
# when you like. Running the script again when the files are already there does nothing.
# Without internet access, download the archive elsewhere, copy it to DIR/cifar-10-binary.tar.gz and
# rerun; or train on a synthetic set (--synthetic in the examples).
set -euo pipefail

url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
md5_expected="c32a1d4ab5d03f1284b67883e8d87530"
file_bytes=30730000  # 10,000 records of 1 + 3,072 bytes

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if (($# > 1)); then
  usage >&2
  exit 2
fi

dir="${1:-data}"
archive="$dir/cifar-10-binary.tar.gz"
out="$dir/cifar-10-batches-bin"
files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)

die() {
  echo "download_cifar10.sh: $*" >&2
  exit 1
}

file_size() {  # GNU stat, then BSD stat
  stat -c %s "$1" 2>/dev/null || stat -f %z "$1"
}

md5_of() {
  if command -v md5sum >/dev/null 2>&1; then
    md5sum "$1" | cut -d ' ' -f 1
  elif command -v md5 >/dev/null 2>&1; then
    md5 -q "$1"
  else
    die "neither md5sum nor md5 is installed; cannot verify $1"
  fi
}

complete() {  # all six files present with the official size
  local f
  for f in "${files[@]}"; do
    [[ -f "$out/$f" ]] || return 1
    [[ "$(file_size "$out/$f")" == "$file_bytes" ]] || return 1
  done
}

if complete; then
  echo "CIFAR-10 is already in $out"
  exit 0
fi

mkdir -p "$dir" || die "cannot create the folder $dir"

# Reuse an archive from an earlier run (or copied by hand) when its checksum is right.
if [[ -f "$archive" && "$(md5_of "$archive")" != "$md5_expected" ]]; then
  echo "download_cifar10.sh: $archive has the wrong MD5; downloading it again" >&2
  rm -f "$archive"
fi

if [[ ! -f "$archive" ]]; then
  echo "Downloading $url"
  partial="$archive.part"
  rm -f "$partial"
  if command -v curl >/dev/null 2>&1; then
    fetch=(curl --fail --location --retry 3 --connect-timeout 20 --output "$partial" "$url")
  elif command -v wget >/dev/null 2>&1; then
    fetch=(wget --tries=3 --timeout=20 --output-document="$partial" "$url")
  else
    die "neither curl nor wget is installed (apt-get install curl), or download $url by hand to $archive and rerun"
  fi
  if ! "${fetch[@]}"; then
    rm -f "$partial"
    die "could not download $url (no internet access?).
  Download it on a machine that has access, copy it to $archive and rerun this script,
  or train on a synthetic set instead (--synthetic in the examples)."
  fi
  mv "$partial" "$archive"
  md5_actual="$(md5_of "$archive")"
  if [[ "$md5_actual" != "$md5_expected" ]]; then
    rm -f "$archive"
    die "the download has MD5 $md5_actual, expected $md5_expected (corrupted or changed); removed it, rerun to try again"
  fi
fi
echo "MD5 OK ($md5_expected)"

tar -xzf "$archive" -C "$dir" || die "could not extract $archive into $dir"
complete || die "after extracting $archive, $out does not hold the six files of $file_bytes bytes: ${files[*]}"

echo "CIFAR-10 (binary version) is in $out:"
for f in "${files[@]}" batches.meta.txt; do
  [[ -f "$out/$f" ]] && echo "  $out/$f"
done
echo "Load it with ctnn::data::Cifar10::load(\"$dir\", ctnn::data::Split::train) (or Split::test)."
