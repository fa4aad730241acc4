"""The upstream form of the series.

The mission queue is the base (v7.3's C populate removed), then the series,
which brings the feature back. The upstream form applies with `git am` to
unmodified v7.3, with no base, and must end in the same tree:

  patches/upstream/series   the upstream form, one patch a line, relative to
                            patches/: its own patches (upstream/*.patch)
                            first, then the series patches it shares
  patches/upstream/*.patch  the patches only the upstream form has
  patches/upstream/cover-letter.txt
                            its cover letter: subject line, blank line, body

The series patches it leaves out must be a prefix of the series: the
upstream form's own patches replace them (`make upstream-refresh` rewrites
the diff of a lone own patch from the series tree and keeps its message).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from .tree import BASE_TAG, IDENT, git, git_am, read_series
from .util import die, log, stage
from .verdict import Check

UPSTREAM = "upstream"
COVER_TXT = "cover-letter.txt"
BRANCH = "upstream"


def read(repo):
    """(own patches, shared patches) of the upstream form, as paths
    relative to patches/."""
    f = Path(repo) / "patches" / UPSTREAM / "series"
    if not f.exists():
        die(f"{f} is missing: the upstream form lists its patches there")
    names = [l.strip() for l in f.read_text().splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    own = [n for n in names if n.startswith(UPSTREAM + "/")]
    shared = [n for n in names if not n.startswith(UPSTREAM + "/")]
    if names[:len(own)] != own:
        die(f"{f}: the upstream form's own patches must come first")
    for n in names:
        if not (Path(repo) / "patches" / n).exists():
            die(f"{f} lists {n}, which is not in patches/")
    return own, shared


def replaced(repo, shared):
    """The series patches that the upstream form's own patches replace:
    they must be a prefix of the series, and the rest must be `shared`, in
    order."""
    series = read_series(repo).series
    k = len(series) - len(shared)
    if k < 0 or series[k:] != shared:
        die("patches/upstream/series must list the series' patches from some "
            "point to the end, in order, after its own patches; it lists:\n  "
            + "\n  ".join(shared))
    return series[:k]


def _scratch(s, repo):
    scratch = s.cache / "v" / ".apply-upstream"
    if not (scratch / ".git").exists():
        shutil.rmtree(scratch, ignore_errors=True)
        git(repo, "worktree", "prune")
        git(repo, "worktree", "add", "-q", "--detach", str(scratch), BASE_TAG)
    return scratch


def apply(s, repo):
    """Apply the upstream form to unmodified v7.3 with git am; return the
    commit."""
    own, shared = read(s.repo)
    scratch = _scratch(s, repo)
    git(scratch, "am", "--abort", check=False)
    git(scratch, "checkout", "-q", "-f", "--detach", BASE_TAG)
    git(scratch, "clean", "-q", "-fdx")
    return git_am(scratch, [(p, s.repo / "patches" / p) for p in own + shared],
                  "upstream form, on v7.3",
                  "If the series changed under it, 'make upstream-refresh' "
                  "rewrites the upstream form's own patch.")


def identical_tree(s, repo, series_commit):
    """The gate: both forms end in the same tree (equal git tree hashes)."""
    up = apply(s, repo)
    a = git(repo, "rev-parse", f"{series_commit}^{{tree}}")
    b = git(repo, "rev-parse", f"{up}^{{tree}}")
    detail = f"tree {a[:12]} (v7.3 + base + series) vs {b[:12]} (v7.3 + upstream form)"
    if a != b:
        diff = git(repo, "diff", "--stat", series_commit, up, check=False)
        detail += "; differs in: " + "; ".join(diff.splitlines()[:4])
    own, shared = read(s.repo)
    return Check("gate", f"upstream form ({len(own)} + {len(shared)} patches, git am "
                 "on v7.3) ends in the same tree as base + series",
                 "ok" if a == b else "fail", detail)


def split_message(head):
    """(subject, body) of a format-patch header: the Subject without its
    [PATCH] prefix, unfolded, and the text between the headers and '---'."""
    hdr, _, body = head.partition("\n\n")
    subject, cont = None, False
    for l in hdr.splitlines():
        if l.startswith("Subject: "):
            subject, cont = l[len("Subject: "):], True
        elif cont and l.startswith((" ", "\t")):
            subject += " " + l.strip()
        else:
            cont = False
    if subject:
        subject = re.sub(r"^\[PATCH[^]]*\] ", "", subject)
    return subject, body


def refresh(s, repo):
    """Rewrite the diff of the upstream form's own patch from the series
    tree, keeping its message."""
    own, shared = read(s.repo)
    gone = replaced(s.repo, shared)
    if len(own) != 1:
        die("make upstream-refresh rewrites a lone own patch; the upstream form "
            f"has {len(own)}: edit them by hand")
    series = git(repo, "rev-list", "--reverse", "rfl/base..series").split()
    if len(series) != len(read_series(s.repo).series):
        die("the series tree is not in sync with patches/; run 'make tree-status'")
    target = series[len(gone) - 1]
    path = s.repo / "patches" / own[0]
    text = path.read_text()
    head, sep, _ = text.partition("\n---\n")
    if not sep:
        die(f"{path}: no '---' line after the message")
    scratch = _scratch(s, repo)
    git(scratch, "checkout", "-q", "-f", "--detach", BASE_TAG)
    subprocess.run(["git", "-C", str(scratch), "read-tree", "-u", "--reset", target],
                   check=True)
    subject, body = split_message(head)
    if not subject:
        die(f"{path}: no Subject")
    who = dict(zip(("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE"),
                   git(repo, "log", "-1", "--format=%an%n%ae%n%aI", target).splitlines()))
    git(scratch, "commit", "-q", "--no-verify", "-m", subject + "\n\n" + body.strip() + "\n",
        env={**os.environ, **IDENT, **who, "GIT_COMMITTER_DATE": who["GIT_AUTHOR_DATE"]})
    fresh = git(scratch, "format-patch", "-1", "--stdout", "--zero-commit", "--no-signature",
                "--full-index", "--abbrev=12", "--minimal", "--diff-algorithm=myers",
                "--no-renames", "--stat=80,60", "HEAD")
    path.write_text(fresh + "\n")
    log(f"rewrote {path.relative_to(s.repo)} from the series tree after "
        f"{len(gone)} series patches")


def export(s, repo, outdir):
    """Write the upstream form as b4-ready patches: format-patch
    --cover-letter --base, with its own cover letter."""
    cover = s.repo / "patches" / UPSTREAM / COVER_TXT
    if not cover.exists():
        die(f"{cover} is missing")
    up = apply(s, repo)
    git(repo, "branch", "-f", BRANCH, up)
    git(repo, "config", f"branch.{BRANCH}.description", cover.read_text())
    outdir = Path(outdir)
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    name = git(repo, "log", "-1", "--format=%an", up)
    email = git(repo, "log", "-1", "--format=%ae", up)
    git(repo, "format-patch", "-q", "--cover-letter", "--cover-from-description=subject",
        f"--base={BASE_TAG}", "--no-signature", "--full-index", "--abbrev=12",
        "--thread=shallow", "-o", str(outdir), f"{BASE_TAG}..{BRANCH}",
        env={"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email})
    files = sorted(outdir.glob("*.patch"))
    # Prove it: git am onto a fresh checkout of v7.3.
    scratch = _scratch(s, repo)
    git(scratch, "checkout", "-q", "-f", "--detach", BASE_TAG)
    for f in files[1:]:
        r = subprocess.run(["git", "-C", str(scratch), "am", "-q", str(f)],
                           env={**os.environ, **IDENT}, capture_output=True, text=True)
        if r.returncode != 0:
            git(scratch, "am", "--abort", check=False)
            die(f"{f.name} does not apply with git am to v7.3:\n{r.stderr.strip()}")
    same = git(scratch, "rev-parse", "HEAD^{tree}") == git(repo, "rev-parse", "series^{tree}")
    return files, same
