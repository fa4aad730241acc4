"""The patch queue and the generated kernel trees.

patches/series is in quilt format with two sections:

    # base
    base/0001-....patch
    # series
    0001-....patch

One git repository in the cache holds the imported base (tag v7.3-base) and
the applied queue. Each variant has its own worktree, so that switching
variants never rebuilds from scratch:

    reference  the imported base, untouched
    base       the "# base" section applied
    series     everything applied; also the tree users edit (make tree)

Patches are applied with fixed committer identity and dates, so the same
queue always gives the same commits. A tree is moved to a new commit with
'git checkout', which rewrites only the files that differ: an unchanged
queue leaves every mtime alone, so builds stay incremental.
"""

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .util import die, log, run, stage

BASE_TAG = "v7.3-base"
BASE_DONE = "rfl/base"       # tag: the last "# base" commit in the series tree
SYNCED = "refs/rfl/synced"   # the commit the series tree last matched patches/
IDENT = {
    "GIT_AUTHOR_NAME": "Linux 7.3",
    "GIT_AUTHOR_EMAIL": "linux@invalid",
    "GIT_COMMITTER_NAME": "rfl-populate harness",
    "GIT_COMMITTER_EMAIL": "harness@invalid",
}
IMPORT_DATE = "2026-01-01T00:00:00+0000"
COVER = "0000-cover-letter.patch"


@dataclass
class Series:
    base: list = field(default_factory=list)
    series: list = field(default_factory=list)


def parse_series(text, name="patches/series"):
    """Parse a quilt series file with '# base' and '# series' sections."""
    out = Series()
    section = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            word = line[1:].strip().lower()
            if word in ("base", "series"):
                if word == "series" and section is None:
                    die(f"{name}:{n}: '# series' must come after '# base'")
                if getattr(out, word) or (word == section):
                    die(f"{name}:{n}: duplicate '# {word}' section")
                section = word
            continue
        if section is None:
            die(f"{name}:{n}: patch {line!r} is outside a section; start the "
                "file with '# base' and '# series' headers")
        fields = line.split()
        if len(fields) > 1 and fields[1] != "-p1":
            die(f"{name}:{n}: only -p1 patches are supported, got {line!r}")
        patch = fields[0]
        if patch.endswith(COVER):
            die(f"{name}:{n}: the cover letter is not a patch; leave it out "
                "of the series file")
        if patch in out.base or patch in out.series:
            die(f"{name}:{n}: {patch} is listed twice")
        getattr(out, section).append(patch)
    if section is None:
        die(f"{name}: no '# base' / '# series' sections found")
    return out


def read_series(repo):
    f = Path(repo) / "patches" / "series"
    if not f.exists():
        die(f"{f} is missing; it lists the queue ('# base' and '# series')")
    s = parse_series(f.read_text(), str(f))
    for p in s.base + s.series:
        if not (Path(repo) / "patches" / p).exists():
            die(f"patches/series lists {p}, but patches/{p} does not exist")
    return s


def format_series(s):
    lines = ["# base"] + s.base + ["# series"] + s.series
    return "\n".join(lines) + "\n"


def git(tree, *args, check=True, capture=True, env=None):
    e = dict(os.environ)
    e.update(IDENT)
    e["GIT_AUTHOR_DATE"] = e["GIT_COMMITTER_DATE"] = IMPORT_DATE
    if env:
        e.update(env)
    r = subprocess.run(["git", "-C", str(tree), *args], env=e,
                       capture_output=capture, text=True)
    if check and r.returncode != 0:
        die(f"git {' '.join(args)} in {tree} failed:\n{r.stderr.strip()}")
    return r.stdout.strip() if capture else ""


def tree_path(s, variant):
    return s.cache / "v" / variant / "linux"


def repo_path(s):
    return tree_path(s, "series")


def drop_debian_ignore(path):
    """Remove Debian's packaging stanza ('/*' then '!/debian/') from the
    top-level .gitignore.

    It makes git ignore every new file, so a new mm/*.rs would silently be
    left out of commits and of 'make export'. Nothing else in the tree
    changes, and .gitignore plays no part in the build.
    """
    if not path.exists():
        return False
    text = path.read_text()
    new = re.sub(r"\n#\n# Debian packaging:[^\n]*\n(#[^\n]*\n)*/\*\n!/debian/\n", "\n", text)
    if new != text:
        path.write_text(new)
        return True
    return False


def ensure_repo(s, pristine, describe):
    """Import the pristine base into the series tree's repository."""
    repo = repo_path(s)
    if (repo / ".git").exists() and git(repo, "tag", "-l", BASE_TAG):
        return repo
    with stage("tree: import base into git"):
        if repo.exists():
            shutil.rmtree(repo)
        repo.parent.mkdir(parents=True, exist_ok=True)
        run(["cp", "-a", "--reflink=auto", str(pristine), str(repo)])
        shutil.rmtree(repo / ".git", ignore_errors=True)
        drop_debian_ignore(repo / ".gitignore")
        git(repo, "init", "-q", "-b", "series")
        git(repo, "config", "core.autocrlf", "false")
        git(repo, "config", "user.name", IDENT["GIT_COMMITTER_NAME"])
        git(repo, "config", "user.email", IDENT["GIT_COMMITTER_EMAIL"])
        git(repo, "config", "gc.auto", "0")
        git(repo, "add", "-A", "-f", ".")
        git(repo, "commit", "-q", "--no-verify", "-m", describe + "\n\n"
            "Imported by the rfl-populate harness. Debian's packaging stanza\n"
            "('/*', '!/debian/') is dropped from .gitignore so that new files\n"
            "are not ignored; nothing else differs from the source package.")
        git(repo, "tag", BASE_TAG)
        git(repo, "tag", BASE_DONE)
        git(repo, "update-ref", SYNCED, "HEAD")
    return repo


def git_am(worktree, named_paths, label, hint):
    """git am each (name, path) in order onto worktree's HEAD, with the
    harness's identity; abort and die naming the patch if one does not
    apply. Returns the resulting commit."""
    for name, path in named_paths:
        r = subprocess.run(
            ["git", "-C", str(worktree), "am", "-q", "--keep-cr",
             "--committer-date-is-author-date", str(path)],
            env={**os.environ, **IDENT}, capture_output=True, text=True)
        if r.returncode != 0:
            git(worktree, "am", "--abort", check=False)
            die(f"patches/{name} ({label}) does not apply:\n"
                f"{(r.stdout + r.stderr).strip()}\n{hint}")
    return git(worktree, "rev-parse", "HEAD")


def apply_queue(s, repo, patches, with_broken=False):
    """Return {'reference','base','series'} -> commit for the queue
    (and 'broken' with with_broken: the series plus harness/negative/*.patch).

    Patches are applied in a scratch worktree with git am; the resulting
    commits depend only on the base and the patch files.
    """
    q = read_series(patches.parent)
    scratch = s.cache / "v" / ".apply"
    if not (scratch / ".git").exists():
        shutil.rmtree(scratch, ignore_errors=True)
        git(repo, "worktree", "prune")
        git(repo, "worktree", "add", "-q", "--detach", str(scratch), BASE_TAG)
    base = git(repo, "rev-parse", BASE_TAG + "^{commit}")
    git(scratch, "am", "--abort", check=False)
    git(scratch, "checkout", "-q", "-f", "--detach", base)
    git(scratch, "clean", "-q", "-fdx")
    out = {"reference": base}

    def am(plist, label):
        return git_am(scratch, [(p, patches / p) for p in plist], label,
                      "Fix it in the tree ('make tree'), then 'make export'.")

    out["base"] = am(q.base, "# base")
    out["series"] = am(q.series, "# series")
    if with_broken:
        # The negative controls' kernel: the series plus the test-only
        # patches that break it on purpose (a page leaked in every populate,
        # a pending SIGKILL ignored by populate).
        broken = sorted((s.repo / "harness" / "negative").glob("*.patch"))
        out["broken"] = am([str(p.resolve()) for p in broken], "negative control")
    return out


def tree_work(repo):
    """Describe work in the series tree that patches/ does not have.

    Returns a list of human-readable lines; empty means in sync.
    """
    lines = []
    synced = git(repo, "rev-parse", "-q", "--verify", SYNCED, check=False)
    head = git(repo, "rev-parse", "HEAD")
    status = git(repo, "status", "--porcelain", "--untracked-files=normal")
    for l in status.splitlines():
        lines.append(f"uncommitted: {l}")
    if synced and head != synced:
        commits = git(repo, "log", "--oneline", f"{synced}..{head}", check=False)
        if commits:
            for c in commits.splitlines():
                lines.append(f"commit not exported: {c}")
        else:
            lines.append(f"HEAD {head[:12]} differs from the last synced "
                         f"commit {synced[:12]} (history rewritten)")
    return lines


def cover_to_description(text):
    """Recover the branch description from an exported cover letter.

    format-patch --cover-from-description=subject makes the first paragraph
    of the description the subject and the rest the body, then appends the
    shortlog ("Author (N):"), the diffstat and base-commit. This undoes it.
    """
    head, _, body = text.partition("\n\n")
    m = re.search(r"(?m)^Subject: (?:\[[^]]*\] )?(.*(?:\n .*)*)", head)
    if not m:
        return None
    subject = " ".join(m.group(1).split())
    lines = body.splitlines()
    for i, l in enumerate(lines):
        if re.match(r"^\S.* \(\d+\):$", l):
            lines = lines[:i]
            break
    return (subject + "\n\n" + "\n".join(lines).strip() + "\n").rstrip() + "\n"


def restore_description(s, repo):
    cover = s.repo / "patches" / COVER
    if not cover.exists():
        return
    desc = cover_to_description(cover.read_text())
    if desc and git(repo, "config", "--get", "branch.series.description",
                    check=False) + "\n" != desc:
        git(repo, "config", "branch.series.description", desc)


def sync(s, variant, pristine, describe):
    """Bring the variant's tree to the queue; return its path."""
    repo = ensure_repo(s, pristine, describe)
    commits = apply_queue(s, repo, s.repo / "patches", with_broken=variant == "broken")
    # series-norust is the series' commit, built without Rust (its own
    # worktree and build directory, so that switching costs no rebuild).
    want = commits["series" if variant == "series-norust" else variant]
    if variant == "series":
        tree = repo
        head = git(repo, "rev-parse", "HEAD")
        if head != want:
            work = tree_work(repo)
            if work:
                die("the series tree has work that patches/ lacks:\n  "
                    + "\n  ".join(work[:15])
                    + f"\nRun 'make export' to keep it, or 'make tree-reset' "
                    f"to drop it (tree: {repo}).")
            git(repo, "checkout", "-q", "-f", "-B", "series", want)
        git(repo, "tag", "-f", BASE_DONE, commits["base"])
        git(repo, "update-ref", SYNCED, want)
        restore_description(s, repo)
        return tree
    tree = tree_path(s, variant)
    if not (tree / ".git").exists():
        with stage(f"tree: create {variant} worktree"):
            shutil.rmtree(tree, ignore_errors=True)
            git(repo, "worktree", "prune")
            git(repo, "worktree", "add", "-q", "--detach", str(tree), want)
    elif git(tree, "rev-parse", "HEAD") != want:
        git(tree, "checkout", "-q", "-f", "--detach", want)
    return tree


def reset(s, pristine, describe):
    repo = ensure_repo(s, pristine, describe)
    commits = apply_queue(s, repo, s.repo / "patches")
    git(repo, "checkout", "-q", "-f", "-B", "series", commits["series"])
    git(repo, "clean", "-q", "-fd")
    git(repo, "tag", "-f", BASE_DONE, commits["base"])
    git(repo, "update-ref", SYNCED, commits["series"])
    restore_description(s, repo)
    return repo


# ---------------------------------------------------------------- export

def _normalize(text):
    """Make format-patch output independent of time and git version."""
    # The cover letter's Date is the time of export; pin it.
    text = re.sub(r"(?m)^Date: .*$", "Date: Thu, 1 Jan 2026 00:00:00 +0000",
                  text, count=1)
    return text


def format_queue(repo, outdir):
    """git format-patch the series tree into outdir (patches/ layout)."""
    head = git(repo, "rev-parse", "HEAD")
    base_done = git(repo, "rev-parse", "-q", "--verify", BASE_DONE + "^{commit}",
                    check=False)
    if not base_done:
        die(f"tag {BASE_DONE} is missing in {repo}; run 'make tree-reset'")
    r = subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor",
                        base_done, head])
    if r.returncode != 0:
        die(f"the series branch no longer contains tag {BASE_DONE} (the last "
            "base commit). If you rewrote the base patches, move the tag: "
            f"git -C {repo} tag -f {BASE_DONE} <last base commit>")
    outdir = Path(outdir)
    (outdir / "base").mkdir(parents=True, exist_ok=True)
    common = ["format-patch", "-q", "--zero-commit", "--no-signature",
              "--no-numbered-files", "--full-index", "--abbrev=12",
              "--no-attach", "--no-thread", "--minimal", "--diff-algorithm=myers",
              "--no-renames", "--stat=80,60"]
    git(repo, *common, "-o", str(outdir / "base"), f"{BASE_TAG}..{base_done}")
    n = int(git(repo, "rev-list", "--count", f"{base_done}..{head}") or 0)
    if n:
        desc = git(repo, "config", "--get", "branch.series.description",
                   check=False)
        cover = ["--cover-letter", "--cover-from-description=subject"] if desc else []
        name = git(repo, "log", "-1", "--format=%an", head)
        email = git(repo, "log", "-1", "--format=%ae", head)
        # The branch name (not a SHA) is what lets git find the description;
        # the cover letter is "from" the committer, so make that the author.
        branch = git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False) or head
        # --base names the imported tarball, so that the base patches show up
        # as prerequisite-patch-id lines (they are not posted).
        git(repo, *common, *cover, f"--base={BASE_TAG}", "-o",
            str(outdir), f"{base_done}..{branch}",
            env={"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email})
    names = []
    for sub in ("base", ""):
        d = outdir / sub if sub else outdir
        files = sorted(p for p in d.glob("*.patch"))
        for f in files:
            f.write_text(_normalize(f.read_text()))
        names.append([f"{sub + '/' if sub else ''}{f.name}" for f in files
                      if f.name != COVER])
    (outdir / "series").write_text(format_series(Series(names[0], names[1])))


def export(s):
    repo = repo_path(s)
    if not (repo / ".git").exists():
        die("there is no series tree to export; run 'make tree' first")
    dirty = git(repo, "status", "--porcelain", "--untracked-files=no")
    if dirty:
        die("the series tree has uncommitted changes; commit them (git "
            f"-C {repo} commit) before 'make export':\n{dirty}")
    with tempfile.TemporaryDirectory() as tmp:
        format_queue(repo, tmp)
        dst = s.repo / "patches"
        for old in list(dst.glob("*.patch")) + list(dst.glob("base/*.patch")):
            old.unlink()
        for f in Path(tmp).rglob("*"):
            if f.is_file():
                t = dst / f.relative_to(tmp)
                t.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, t)
    git(repo, "update-ref", SYNCED, "HEAD")
    log(f"exported {repo} to {s.repo / 'patches'}")


def status(s):
    """Lines describing work that exists only in the series tree."""
    repo = repo_path(s)
    if not (repo / ".git").exists():
        return []
    lines = tree_work(repo)
    if lines:
        return lines
    # In sync by refs; double-check by exporting and comparing.
    with tempfile.TemporaryDirectory() as tmp:
        format_queue(repo, tmp)
        # patches/upstream/ is the upstream form, kept by hand (upstream.py).
        r = subprocess.run(["diff", "-r", "-q", "-x", "upstream", tmp, str(s.repo / "patches")],
                           capture_output=True, text=True)
        for l in r.stdout.splitlines():
            lines.append("patches/ differs from the tree: " + l.replace(tmp, "<tree export>"))
    return lines
