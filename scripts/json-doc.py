#!/usr/bin/env python3
"""Regenerate docs/JSON.md's examples by running tabula --json.

Usage: scripts/json-doc.py [TABULA]   (default: target/debug/tabula)

Each example is the real output of the command line above it, run in an
empty temporary folder (the embedded host); long strings and lists are
shortened ("...") so the page stays readable. The text before the
"## Examples" heading is kept as it is.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABULA = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/tabula"))
DOC = os.path.join(ROOT, "docs/JSON.md")
EMBEDDED = open(os.path.join(ROOT, "crates/tabula-spec/hosts/surface-pro-8.toml")).read()

# (title, argv after `tabula --json`, extra env)
CASES = [
    ("check", ["check"], {}),
    ("check --rules", ["check", "--rules"], {}),
    ("check: findings (exit 1)", ["check", "--spec", "dup.toml"], {}),
    ("check: a missing file (exit 2)", ["check", "--spec", "missing.toml"], {}),
    ("render", ["render", "--out", "flake"], {}),
    ("docs", ["docs", "--out", "flake"], {}),
    ("init", ["init", "host.toml"], {}),
    ("init: refused (exit 3)", ["init", "host.toml"], {}),
    ("schema", ["schema"], {}),
    ("plan", ["plan", "--disk", "disk.img"], {}),
    ("plan: a usage error from clap (exit 2)", ["plan"], {}),
    ("apply: without --yes and no terminal (exit 2)", ["apply", "--disk", "disk.img"], {}),
    ("mount: no such disk (exit 2)", ["mount", "--disk", "missing.img", "--target", "mnt"], {}),
    ("unmount", ["unmount", "--target", "mnt"], {}),
    ("install: nixos-install missing (exit 4)", ["install", "--disk", "disk.img", "--target", "mnt"], {}),
    ("keyfile: no such disk (exit 2)", ["keyfile", "--disk", "missing.img", "--keyfile", "k", "add"], {}),
    ("import (no NixOS root on it: exit 1)", ["import", "--disk", "gpt.img"], {}),
    ("audit (lost files: exit 1)", ["audit", "--root", "flake"], {}),
    ("status", ["status", "--target", "mnt"], {}),
    ("rebuild --dry", ["rebuild", "boot", "--dry", "--host", "box"], {}),
    ("rebuild: a missing program (exit 4)", ["rebuild", "test", "--yes", "--no-check", "--host", "box"], {"PATH": "/nonexistent"}),
    ("generations", ["generations"], {}),
    ("diff", ["diff", "booted", "current"], {}),
    ("place", ["place", "ci-runner", "--kind", "untrusted"], {}),
    ("check --fleet", ["check", "--fleet", "fleet"], {}),
    ("render --fleet", ["render", "--fleet", "fleet", "--out", "fleet-flake"], {}),
    ("deploy --dry", ["deploy", "--fleet", "fleet", "--on", "@laptop", "--dry"], {}),
    ("deploy: colmena missing (exit 4)", ["deploy", "--fleet", "fleet", "--yes"], {"PATH": "/nonexistent"}),
    ("status --fleet --dry", ["status", "--fleet", "fleet", "--dry"], {}),
    ("audit --fleet: colmena missing (exit 4)", ["audit", "--fleet", "fleet"], {"PATH": "/nonexistent"}),
    ("secret set: no admin key yet (exit 2)", ["secret", "set", "wifi", "--spec", "host.toml"], {"STDIN": "a value"}),
    ("secret password: no admin key yet (exit 2)", ["secret", "password", "user", "--spec", "host.toml"], {"STDIN": "a password"}),
    ("secret rekey: no identity file (exit 1)", ["secret", "rekey", "--spec", "host.toml", "--identity", "admin.txt"], {}),
    ("secret list", ["secret", "list", "--spec", "host.toml"], {}),
    ("completions", ["completions", "bash"], {}),
    ("man", ["man", "apply"], {}),
]


def shorten(v, depth=0):
    if isinstance(v, str):
        return v if len(v) <= 100 else v[:97] + "..."
    if isinstance(v, list):
        items = [shorten(x, depth + 1) for x in v[:3]]
        return items + (["..."] if len(v) > 3 else [])
    if isinstance(v, dict):
        if depth >= 4:
            return "..." if v else {}
        keys = list(v)
        out = {k: shorten(v[k], depth + 1) for k in keys[:12]}
        if len(keys) > 12:
            out["..."] = "..."
        return out
    return v


def main():
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "dup.toml"), "w").write(
            EMBEDDED.replace('path = "/var/log"', 'path = "/var/lib"', 1))
        os.mkdir(os.path.join(d, "mnt"))
        # A fleet of one: the embedded host, deployed to root@laptop.lan.
        os.mkdir(os.path.join(d, "fleet"))
        open(os.path.join(d, "fleet", "laptop.toml"), "w").write(
            EMBEDDED.replace('name = "surface-pro-8"', 'name = "laptop"', 1)
            + '\n[deploy]\ntarget = "root@laptop.lan"\ntags = ["laptop"]\n')
        # For import: an ESP and an empty partition, as an installer leaves them
        # (needs root for the loop device; else the example is the error).
        img = os.path.join(d, "gpt.img")
        subprocess.run(["truncate", "-s", "64M", img], check=True)
        subprocess.run(["sgdisk", "-n1:1M:+16M", "-t1:ef00", "-c1:ESP", "-n2:0:+32M", "-t2:8309",
                        "-c2:cryptroot", img], check=True, capture_output=True)
        subprocess.run(["mkfs.vfat", "--offset", "2048", "-n", "ESP", "-i", "2CE06722", img, "16384"],
                       check=True, capture_output=True)
        parts = ["## Examples\n\nGenerated by `scripts/json-doc.py` (each is the real output of the\n"
                 "command, run in an empty folder on the embedded host; long strings and\n"
                 "lists shortened with `...`).\n"]
        for title, argv, extra in CASES:
            env = dict(os.environ, NO_COLOR="1")
            env.pop("TABULA_SPEC", None)
            env.update(extra)
            # A value tabula reads on stdin (never on the command line).
            stdin = env.pop("STDIN", "")
            p = subprocess.run([TABULA, "--json", *argv], cwd=d, env=env, input=stdin,
                               capture_output=True, text=True, timeout=120)
            doc = json.loads(p.stdout)
            assert doc["error"] is None or doc["error"]["exit"] == p.returncode, (argv, doc)
            shown = {**doc, "data": shorten(doc["data"]), "findings": shorten(doc["findings"], 1)}
            text = json.dumps(shown, indent=2, ensure_ascii=False).replace(d, "/tmp/x")
            parts.append(f"### {title}\n\n```console\n$ tabula --json {' '.join(argv)}   # exit {p.returncode}\n```\n\n```json\n{text}\n```\n")
    head = open(DOC).read().split("## Examples")[0]
    open(DOC, "w").write(head + "\n".join(parts))


main()
