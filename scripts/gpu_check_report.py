"""The last step of scripts/gpu_check.sh: what the check measured, in three files.

    python scripts/gpu_check_report.py WORK OUT REHEARSAL SECONDS

WORK is the check's work folder (logs/, bench.json, CHAPTER.glue.json), OUT the folder that
receives results.json (everything measured, and the issue's targets met or not), summary.txt (the
same for people) and results.md (a section ready to paste into benchmarks/RESULTS.md). REHEARSAL is
1 for a CPU rehearsal, SECONDS the check's wall time so far.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

LENET_TARGET_S = 0.5  # LeNet-5 to 99.0% test accuracy within this many seconds of training
ALEXNET_TARGET = 100_000  # AlexNetCIFAR training images per second
CHAPTER_TARGET_S = 600  # every chapter's full budget within 10 minutes


def load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def environment(logs: Path) -> dict[str, Any]:
    for line in (logs / "1-env.log").read_text().splitlines():
        if line.startswith("ENV_JSON "):
            return json.loads(line[9:])
    return {}


def tests(logs: Path) -> dict[str, Any]:
    text = (logs / "2-tests.log").read_text()
    lines = text.splitlines()
    last = lines[-2] if len(lines) > 1 else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)", last)}
    return {"counts": counts, "failed": re.findall(r"^FAILED (\S+)", text, re.M)}


def chapters(work: Path) -> dict[str, Any]:
    out = {}
    for log in sorted((work / "logs").glob("4-chapter-*.log")):
        name = log.stem.removeprefix("4-chapter-")
        text = log.read_text()
        m = re.search(r"CHAPTER_EXIT (\d+) (\d+)\s*$", text)
        rc, secs = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        status = "passed" if rc == 0 else ("timed out" if rc == 124 else "failed")
        out[name] = {"status": status, "exit": rc, "seconds": secs, "glued": load(work / f"{name}.glue.json"),
                     "estimates": re.findall(r"^Estimated: .*$", text, re.M),
                     "tail": text.splitlines()[-25:] if rc else []}
    return out


def _row(bench: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    return next((r for r in (bench or {}).get("rows", []) if r["run"] == name), None)


def targets(bench: dict[str, Any] | None, chapter: dict[str, Any], compiled: bool) -> dict[str, Any]:
    """The issue's targets, each with what was measured and whether it was met (None: not measured)."""
    fast = _row(bench, "cnnbook fast")
    t99 = fast["time_to_99"] if fast else None
    race = (bench or {}).get("race_to_99") or {}
    ours, peer = race.get("cnnbook fast (LeNet-5)"), race.get("peer train_mnist_fast")
    sooner = None
    if ours and peer:
        sooner = bool(ours["reached"] and ours["reached"] >= peer["reached"]
                      and (not peer["reached"] or ours["mean_s"] < peer["mean_s"]))
    speed = (bench or {}).get("alexnet_cifar_images_per_s")
    done = [c["seconds"] for c in chapter.values() if c["status"] == "passed"]
    return {
        "lenet5_to_99": {"target_s": LENET_TARGET_S, "seconds": t99, "race": ours,
                         "met": None if fast is None else t99 is not None and t99 <= LENET_TARGET_S},
        "lenet5_sooner_than_peer": {"lenet5": ours, "peer": peer, "met": sooner},
        "alexnet_images_per_s": {"target": ALEXNET_TARGET, "measured": speed, "compiled": compiled,
                                 "met": None if speed is None else speed >= ALEXNET_TARGET},
        "chapters_within_10_min_here": {"target_s": CHAPTER_TARGET_S, "seconds": {k: c["seconds"] for k, c in
                                                                                  chapter.items()},
                                        "met": bool(chapter) and len(done) == len(chapter)
                                        and max(done) <= CHAPTER_TARGET_S},
    }


def _met(flag: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[flag]


def _bench_table(logs: Path) -> list[str]:
    """The bench's printed table and race, as printed (from its 'Machine:' line on)."""
    path = logs / "3-bench.log"
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Machine:")), len(lines))
    return [line for line in lines[start:] if not line.startswith(("bench exit", "Wrote "))]


def summary(r: dict[str, Any]) -> list[str]:
    env, t = r["environment"], r["targets"]
    lines = [f"gpu_check ({'CPU rehearsal, quick' if r['rehearsal'] else 'GPU, full budget'}), {r['seconds']} s",
             f"machine: {env.get('gpu', 'no GPU')}, driver {env.get('driver')}, torch {env.get('torch')}, "
             f"torchvision {env.get('torchvision')}, CUDA {env.get('cuda')}, python {env.get('python')}",
             f"CUDA tests: {r['tests']['counts']} "
             + ("FAILED: " + ", ".join(r["tests"]["failed"]) if r["tests"]["failed"] else "")]
    b = r["bench"]
    if b is None:
        lines.append("bench: no result (see logs)")
    else:
        for row in b["rows"]:
            lines.append(f"bench: {row['run']}: {row.get('train_seconds')} s training, time to 99% "
                         f"{row.get('time_to_99')}, final {row.get('final_acc')}%")
        if "alexnet_cifar_images_per_s" in b:
            lines.append(f"bench: AlexNetCIFAR {b['alexnet_cifar_images_per_s']:,.0f} images/s")
    lines.append(f"target LeNet-5 to 99.0% in <= {LENET_TARGET_S} s: {_met(t['lenet5_to_99']['met'])} "
                 f"({t['lenet5_to_99']['seconds']} s)")
    lines.append(f"target LeNet-5 sooner than the peer: {_met(t['lenet5_sooner_than_peer']['met'])}")
    a = t["alexnet_images_per_s"]
    lines.append(f"target AlexNetCIFAR >= {ALEXNET_TARGET:,} images/s: {_met(a['met'])} ({a['measured']})")
    for name, c in r["chapters"].items():
        lines.append(f"chapter {name}: {c['status']} in {c['seconds']} s, {len(c['glued'] or {})} glued values"
                     + "".join(f"; {e}" for e in c["estimates"]))
    return lines


def _s(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds:.2f} s"


def markdown(r: dict[str, Any], logs: Path) -> list[str]:
    """A section for benchmarks/RESULTS.md: the machine, the tests, the bench as printed, the targets,
    the chapters."""
    env, t = r["environment"], r["targets"]
    what = "CPU rehearsal (quick budget)" if r["rehearsal"] else env.get("gpu", "GPU")
    gpu = (f"{env['gpu']} ({env.get('gpu_memory_gib')} GiB, compute capability {env.get('capability')}), "
           f"driver {env.get('driver')}" if "gpu" in env else "no GPU")
    out = [f"## GPU check: {what} ({time.strftime('%Y-%m-%d')})", "",
           f"Machine: {gpu}, CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}; "
           f"Python {env.get('python')}, torch {env.get('torch')}, torchvision {env.get('torchvision')}. "
           f"Command: `bash scripts/gpu_check.sh MNIST_DIR OUT` ({r['seconds']} s in all).", "",
           f"**CUDA tests** (`pytest -m cuda`): {r['tests']['counts']}"
           + (f", failed: {', '.join(r['tests']['failed'])}" if r["tests"]["failed"] else "") + ".", ""]
    table = _bench_table(logs)
    if table:
        device = "cpu --quick" if r["rehearsal"] else "cuda"
        out += [f"**Bench** (`python -m cnnbook bench --device {device} --gpu-alexnet --compile --seeds 3`, real "
                "MNIST), as printed:", "", "```", *table, "```", ""]
    lenet, race, alex = t["lenet5_to_99"], t["lenet5_sooner_than_peer"], t["alexnet_images_per_s"]
    ours, peer = race["lenet5"] or {}, race["peer"] or {}
    n = len((r["bench"] or {}).get("race_to_99", {}).get("seeds", []))
    speed = "not measured" if alex["measured"] is None else f"{alex['measured']:,.0f} images/s"
    chapters_t = t["chapters_within_10_min_here"]
    longest = max((s for s in chapters_t["seconds"].values() if s is not None), default=None)
    out += ["| target | measured | |", "| --- | --- | --- |",
            f"| LeNet-5 to 99.0% in at most {LENET_TARGET_S} s of training | {_s(lenet['seconds'])} (cnnbook fast, "
            f"first seed) | {_met(lenet['met'])} |",
            f"| LeNet-5 reaches 99.0% sooner than the peer | LeNet-5 {_s(ours.get('mean_s'))} on the mean "
            f"({ours.get('reached')}/{n} seeds reached it), the peer {_s(peer.get('mean_s'))} "
            f"({peer.get('reached')}/{n}) | {_met(race['met'])} |",
            f"| AlexNetCIFAR at {ALEXNET_TARGET:,} training images/s or more | {speed} "
            f"({'compiled' if alex['compiled'] else 'not compiled'}) | {_met(alex['met'])} |",
            f"| every chapter done within {CHAPTER_TARGET_S} s on this machine | longest {longest} s "
            f"| {_met(chapters_t['met'])} |", "",
            f"**Chapters' {'quick' if r['rehearsal'] else 'full'} budgets** (all five at once on this machine):", "",
            "| chapter | status | seconds | the chapter's own estimate before its long runs |",
            "| --- | --- | --- | --- |"]
    for name, c in r["chapters"].items():
        out.append(f"| {name} | {c['status']} | {c['seconds']} | {'; '.join(c['estimates']) or '-'} |")
    return out


def main(argv: list[str]) -> int:
    work, out, rehearsal, seconds = Path(argv[1]), Path(argv[2]), argv[3] == "1", int(argv[4])
    logs = work / "logs"
    bench = load(work / "bench.json")
    chapter = chapters(work)
    compiled = os.environ.get("GPU_CHECK_COMPILE", "1") == "1"  # gpu_check.sh's switch for --compile
    results = {"rehearsal": rehearsal, "seconds": seconds, "environment": environment(logs), "tests": tests(logs),
               "bench": bench, "chapters": chapter, "targets": targets(bench, chapter, compiled)}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    lines = summary(results)
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    (out / "results.md").write_text("\n".join(markdown(results, logs)) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
