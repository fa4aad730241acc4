"""Kernel config fragments: merge with merge_config.sh, then verify that
every requested option survived olddefconfig."""

import re
from pathlib import Path

from .util import die

LINE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
OFF = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def parse(text):
    """Parse .config text into {name: value}; 'n' for 'is not set'."""
    opts = {}
    for line in text.splitlines():
        line = line.strip()
        m = LINE.match(line)
        if m:
            opts[m.group(1)] = m.group(2)
            continue
        m = OFF.match(line)
        if m:
            opts[m.group(1)] = "n"
    return opts


def fragments(repo, kind, variant, arch="x86_64"):
    """The fragments for a config kind ('test' or 'bench'), variant and arch.

    base + kind + the arch entry's fragments (configs/arch/) for every variant (the architecture's
    console, channels and needs, and what it cannot have, such as KASAN
    with Rust on arm); the series adds series.config and
    series-<kind>.config, which name options only the series has.
    """
    from . import arch as archmod
    d = Path(repo) / "configs"
    # The matrix build is the test config with matrix.config's changes.
    # bench-hrt is the bench config with a distribution-like timer setup.
    kinds = {"matrix": ["test", "matrix"], "bench-hrt": ["bench", "hrt"]}.get(kind, [kind])
    files = ([d / "base.config"] + [d / f"{k}.config" for k in kinds]
             + archmod.config_fragments(repo, archmod.get(arch)))
    for f in files:
        if not f.exists():
            die(f"config fragment {f} is missing")
    if variant in ("series", "broken") and has_series(repo):
        files += [f for f in [d / "series.config"] + [d / f"series-{k}.config" for k in kinds]
                  if f.exists()]
    if variant == "series-norust":
        # Last, so that it wins over base.config's CONFIG_RUST=y.
        files.append(d / "norust.config")
    return files


def has_series(repo):
    """Whether the queue's '# series' section lists any patch. With an empty
    section the series variant is plain v7.3 (plus the base section), and
    nothing that only the series adds is requested or required."""
    from .tree import read_series
    return bool(read_series(repo).series)


def requested(files):
    """Merge fragments in order (later wins), as merge_config.sh does."""
    want = {}
    for f in files:
        want.update(parse(Path(f).read_text()))
    return want


def verify(want, final_text):
    """Return a list of (option, wanted, got) that did not survive."""
    got = parse(final_text)
    bad = []
    for k, v in want.items():
        g = got.get(k, "n")
        if v == "n":
            if g not in ("n",):
                bad.append((k, v, g))
        elif g != v:
            bad.append((k, v, g))
    return bad


def explain(bad, kind):
    lines = [f"  {k}: requested {w}, got {'unset' if g == 'n' else g}"
             for k, w, g in bad]
    return (f"{len(bad)} option(s) of the {kind} config were dropped by "
            "olddefconfig (an unmet dependency, or a typo):\n"
            + "\n".join(lines)
            + "\nFix configs/*.config (add the missing dependency) and rerun.")
