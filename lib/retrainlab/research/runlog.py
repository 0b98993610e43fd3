"""Reproducibility of the committed run: no timings in committed files, and a comparison with them.

``tidy_notebook`` moves what changes on every run out of an executed notebook (papermill's and
nbclient's start/end times and durations, progress-bar timings, widget ids, the Python patch
version) into an ignored run log, which the report's appendix may show for a local run.
``compare_results`` compares a run's results files with the committed ones (``git show``) and
prints one line: "N of N results files agree with the committed ones; largest relative
difference ...". Two files agree when they have the same structure and text and every number
is equal to ``AGREE_RTOL`` (relative) or ``AGREE_ATOL`` (absolute); results files are written at
``jsonio.RESULTS_DIGITS`` significant digits, so BLAS-level noise (about 1e-11 relative) does not
show in them.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

from retrainlab.common.jsonio import RESULTS_DIGITS, read_results

#: Two results files agree when every number matches to this relative tolerance ...
AGREE_RTOL = 10.0 ** -(RESULTS_DIGITS - 1)
#: ... or this absolute one (values that are zero up to rounding noise).
AGREE_ATOL = 1e-12
_TIMING_KEYS = ("start_time", "end_time", "duration")
# tqdm's "[00:03<00:00,  4.21it/s]" (elapsed<remaining, rate): timings, dropped
_TQDM_TIMES = re.compile(r"\s*\[[0-9:]+<[0-9:?]+(?:,\s*[^\]]*)?\]")
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# a float with more decimals than the results files keep (digits before the point not counted)
_LONG_FLOAT = re.compile(
    r"(?<![\w.])-?\d+\.\d{" + str(RESULTS_DIGITS + 1) + r",}(?:e[-+]?\d+)?(?![\w.])"
)
#: The checkout's root: a path printed under it is shown relative to it (clones live anywhere).
ROOT = Path(__file__).resolve().parents[3]


# --------------------------------------------------------------------------- executed notebooks
def _last_frame(text: str) -> str:
    # a progress bar redraws with "\r": keep what the reader last saw on each line
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def _at_results_precision(match: re.Match[str]) -> str:
    return f"{float(match.group(0)):.{RESULTS_DIGITS}g}"


def _clean_text(text: str) -> str:
    text = _TQDM_TIMES.sub("", _last_frame(text)).replace(str(ROOT) + "/", "")
    # a float printed with all its 17 digits shows BLAS noise: print it as results files hold it
    return _LONG_FLOAT.sub(_at_results_precision, text)


#: A progress bar's frame (tqdm): "label:  40%|####      | 60/150".
_PROGRESS_FRAME = re.compile(r"^[^\n]*\d+%\|[^\n]*\|[^\n]*$")


def _clean_output(output: Any) -> Any | None:
    if output.get("output_type") == "stream":
        text = _clean_text(output.get("text", ""))
        # how many intermediate frames a bar flushes depends on the machine's speed: keep the
        # finished bar only
        lines = [
            line
            for line in text.split("\n")
            if not (_PROGRESS_FRAME.match(line) and "100%" not in line)
        ]
        output["text"] = "\n".join(lines)
        return output if output["text"].strip() else None
    data = output.get("data")
    if data and _WIDGET_VIEW in data:
        # a live widget (a progress bar): a random model id, and its text is the first frame only
        return None
    if data and "text/plain" in data:
        data["text/plain"] = _clean_text("".join(data["text/plain"]))
    return output


def _merge_streams(outputs: list[Any]) -> list[Any]:
    """Consecutive stream outputs of one name as one (how a kernel chunks them is timing)."""
    merged: list[Any] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and output.get("output_type") == "stream"
            and last.get("output_type") == "stream"
            and last.get("name") == output.get("name")
        ):
            last["text"] = "".join(last["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


def tidy_notebook(path: str | Path, run_log: str | Path | None = None) -> dict[str, Any]:
    """Strip volatile metadata from an executed notebook in place; log it to ``run_log``.

    Removes papermill's and nbclient's times and durations (notebook and cells), widgets (live
    progress bars: random ids), progress-bar timings in text, the checkout's absolute path, and
    the Python patch version, the random id papermill gives its injected-parameters cell;
    floats printed with more than ``RESULTS_DIGITS`` significant digits are shown at that
    precision, as the results files hold them. Returns the entry
    written to the run log: ``{"duration": s, "start_time": ..., "end_time": ...}``.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    papermill = nb.metadata.get("papermill", {})
    entry = {k: papermill.pop(k) for k in _TIMING_KEYS if k in papermill}
    nb.metadata.pop("widgets", None)
    info = nb.metadata.get("language_info", {})
    if "version" in info:
        info["version"] = ".".join(str(info["version"]).split(".")[:2])
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill gives it a random id on every run
        cell.metadata.pop("execution", None)
        for key in _TIMING_KEYS:
            cell.metadata.get("papermill", {}).pop(key, None)
        if cell.cell_type == "code":
            # merge before cleaning: a bar's "\r" redraws then span the kernel's chunks
            cleaned = (_clean_output(o) for o in _merge_streams(cell.outputs))
            cell.outputs = [o for o in cleaned if o is not None]
    nbformat.write(nb, path)
    if run_log is not None:
        _log(Path(run_log), path.stem, entry)
    return entry


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
    ).stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s lock file: ``make -j`` tidies notebooks at once,
    and each read-modify-write of the run log must see the others' entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _log(run_log: Path, step: str, entry: dict[str, Any]) -> None:
    with _locked(run_log):
        _log_unlocked(run_log, step, entry)


def _log_unlocked(run_log: Path, step: str, entry: dict[str, Any]) -> None:
    log = read_results(run_log) if run_log.exists() else {"timings": {}}
    if "duration" in entry:
        log["timings"][step] = round(float(entry["duration"]), 1)
    try:
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                     ":(top,exclude)reports", ":(top,exclude)data").strip()  # fmt: skip
        log["commit"] = _git("rev-parse", "--short", "HEAD").strip() + (
            " (with uncommitted changes)" if dirty else ""
        )
    except (OSError, subprocess.CalledProcessError):
        log["commit"] = "unknown (not a git checkout)"
    log["python"] = sys.version.split()[0]
    partial = run_log.with_name(run_log.name + ".partial")
    partial.write_text(json.dumps(log, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, run_log)  # a reader never sees half a file


# --------------------------------------------------------------------------- results files
def _numbers(a: Any, b: Any, where: str = "") -> Iterator[tuple[str, float, float]]:
    """Pairs of numbers at the same place in ``a`` and ``b``; ValueError where they differ
    otherwise (keys, lengths, types, text)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            raise ValueError(f"{where or 'top level'}: keys differ")
        for key in a:
            yield from _numbers(a[key], b[key], f"{where}.{key}" if where else key)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise ValueError(f"{where}: {len(a)} items against {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _numbers(x, y, f"{where}[{i}]")
    elif (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        yield where, float(a), float(b)
    elif a != b:
        raise ValueError(f"{where}: {a!r} against {b!r}")


def relative_difference(x: float, y: float) -> float:
    """``|x - y| / max(|x|, |y|)`` (0 when both are 0)."""
    scale = max(abs(x), abs(y))
    return 0.0 if scale == 0 else abs(x - y) / scale


def compare_payloads(new: Any, old: Any) -> dict[str, Any]:
    """``{"agree": bool, "max_rel": float, "where": str, "reason": str}`` for two results."""
    worst, where, agree = 0.0, "", True
    try:
        for place, x, y in _numbers(new, old):
            if math.isclose(x, y, rel_tol=AGREE_RTOL, abs_tol=AGREE_ATOL):
                if abs(x - y) <= AGREE_ATOL:
                    continue  # zero up to rounding noise: no relative difference to speak of
            else:
                agree = False
            rel = relative_difference(x, y)
            if rel > worst:
                worst, where = rel, place
    except ValueError as exc:
        return {"agree": False, "max_rel": math.inf, "where": "", "reason": str(exc)}
    return {"agree": agree, "max_rel": worst, "where": where, "reason": ""}


def committed_text(path: Path, ref: str = "HEAD") -> str | None:
    """The text of ``path`` at git ``ref``, or None when it is not tracked there."""
    try:
        top = Path(_git("rev-parse", "--show-toplevel").strip())
        rel = path.resolve().relative_to(top).as_posix()
        return _git("show", f"{ref}:{rel}")
    except (OSError, ValueError, subprocess.CalledProcessError):
        return None


def compare_results(
    results_dir: str | Path, ref: str = "HEAD", keep_committed: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """Compare every results file in ``results_dir`` with its committed version at ``ref``.

    Returns the summary line and one row per file. With ``keep_committed``, a file that agrees
    but differs in its bytes (a digit flipped by rounding) gets the committed bytes back, so a
    rerun that changed no number leaves ``git status`` clean.
    """
    rows = []
    for path in sorted(Path(results_dir).glob("*.json")):
        text = committed_text(path, ref)
        if text is None:
            continue
        row = {"file": path.name, **compare_payloads(read_results(path), json.loads(text))}
        row["restored"] = False
        if keep_committed and row["agree"] and path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            row["restored"] = True
        rows.append(row)
    if not rows:
        return f"no committed results files to compare with in {results_dir}", rows
    n_agree = sum(r["agree"] for r in rows)
    worst = max(rows, key=lambda r: r["max_rel"])
    line = (
        f"{n_agree} of {len(rows)} results files agree with the committed ones; "
        f"largest relative difference {worst['max_rel']:.1e}"
        + (f" ({worst['file']}: {worst['where']})" if worst["max_rel"] > 0 else "")
    )
    restored = sum(r["restored"] for r in rows)
    if restored:
        line += f"; kept the committed bytes of {restored} (differences below the precision)"
    return line, rows


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``retrainlab tidy-notebook NB --run-log F`` / ``retrainlab compare-results DIR``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "tidy-notebook":
        parser = argparse.ArgumentParser(prog="retrainlab tidy-notebook")
        parser.add_argument("notebooks", nargs="+", help="executed notebooks, tidied in place")
        parser.add_argument("--run-log", help="JSON run log the timings go to (not committed)")
        args = parser.parse_args(rest)
        for notebook in args.notebooks:
            tidy_notebook(notebook, args.run_log)
        return 0
    parser = argparse.ArgumentParser(prog="retrainlab compare-results")
    parser.add_argument("results_dir", help="folder of results files, e.g. reports/results")
    parser.add_argument("--ref", default="HEAD", help="git revision to compare with")
    parser.add_argument(
        "--keep-committed",
        action="store_true",
        help="give files that agree their committed bytes back (clean git status)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 unless all agree")
    args = parser.parse_args(rest)
    line, rows = compare_results(args.results_dir, args.ref, args.keep_committed)
    print(line)
    for row in rows:
        if not row["agree"]:
            print(f"  differs: {row['file']} {row['reason'] or row['where']}")
    return 1 if args.strict and not all(r["agree"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
