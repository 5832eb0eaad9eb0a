#!/usr/bin/env python3
"""Build the benchmark tree: TOP directories x SUB subdirectories x FILES files.

The default, 100 x 100 x 99, makes 1,000,100 entries (10,100 directories,
990,000 files). Files get 0-4 KiB of content so sizes differ; mtimes are
whatever the creation time is. A few files per subdirectory are symlinks,
like a real root has.
"""
import os
import sys

root = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 100
sub = int(sys.argv[3]) if len(sys.argv) > 3 else 100
files = int(sys.argv[4]) if len(sys.argv) > 4 else 99
data = b"x" * 4096
os.makedirs(root, exist_ok=True)
n = 0
for t in range(top):
    tdir = os.path.join(root, f"d{t:03}")
    os.mkdir(tdir)
    n += 1
    for s in range(sub):
        sdir = os.path.join(tdir, f"s{s:03}")
        os.mkdir(sdir)
        n += 1
        for f in range(files):
            p = os.path.join(sdir, f"f{f:03}")
            if f % 33 == 32:
                os.symlink("f000", p)
            else:
                fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
                if f % 4 == 0:
                    os.write(fd, data[: (f * 37) % 4096])
                os.close(fd)
            n += 1
print(n)
