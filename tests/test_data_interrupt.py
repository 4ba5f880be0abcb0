"""Nothing half-written: outputs appear only when a run completes, an existing --out is never silently replaced,
and SIGINT / SIGTERM stop a real `python -m` run, its worker processes included, leaving no output behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from data_prep.outputs import Interrupted, interruptible, raise_if_interrupted
from data_prep.wethink import OUTPUTS, main, prepare
from tests.repo import REPO

SAMPLE = REPO / "examples" / "sample"
JSONL, IMAGES = SAMPLE / "wethink_sample.jsonl", SAMPLE / "images"


def big_input(path: Path, n_rows: int) -> Path:
    """`n_rows` distinct rows cycling through the sample's rows: many seconds of work for two workers."""
    base = [json.loads(x) for x in JSONL.read_text(encoding="utf-8").splitlines()]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n_rows):
            fh.write(json.dumps({**base[i % len(base)], "problem": f"{base[i % len(base)]['problem']} ({i})"}) + "\n")
    return path


def test_a_non_empty_out_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["--jsonl", str(JSONL), "--image-root", str(IMAGES), "--out", str(out), "--workers", "1", "--no-progress"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2 and "is not empty (notes.txt)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # refused before writing anything
    assert main([*args, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, "notes.txt"])  # only its own files replaced
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # a swallowed signal: handled
def test_an_interrupted_overwrite_keeps_the_previous_outputs_and_no_temporary_file(tmp_path):
    out = tmp_path / "out"
    first = prepare(JSONL, IMAGES, out, workers=1, progress=False)
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    src = big_input(tmp_path / "big.jsonl", 3000)  # seconds of work in one process
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))  # a real SIGINT, mid-run
    with pytest.raises(Interrupted, match="SIGINT"), interruptible():
        timer.start()
        try:
            prepare(src, IMAGES, out, workers=1, progress=False, overwrite=True)
        finally:
            timer.cancel()
            timer.join()
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before  # the old set, whole and untouched
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)  # no temporary or spool file left
    assert pq.read_metadata(out / "val.parquet").num_rows == first["val"]


def test_a_signal_whose_exception_is_swallowed_still_stops_the_run():
    """CPython drops an exception raised in a weakref callback; the signal is not lost for that."""

    class Thing:
        pass

    def callback(_):
        signal.raise_signal(signal.SIGTERM)
        sum(i for i in range(100))  # Python code runs: the handler fires here, inside the callback

    thing, swallowed, hook = Thing(), [], sys.unraisablehook
    sys.unraisablehook = lambda unraisable: swallowed.append(unraisable.exc_type)
    try:
        with interruptible():
            ref = weakref.ref(thing, callback)
            del thing
            assert ref() is None and swallowed == [Interrupted]  # the handler's exception went nowhere
            with pytest.raises(Interrupted, match="SIGTERM"):
                raise_if_interrupted()  # what every row loop of prepare and the SFT export calls
    finally:
        sys.unraisablehook = hook
    raise_if_interrupted()  # outside, nothing is pending any more


def children_of(process: subprocess.Popen, at_least: int, timeout: float = 60) -> list[psutil.Process]:
    """The run's worker processes once at least `at_least` are up (the spawn pool's resource tracker included)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = psutil.Process(process.pid).children(recursive=True)
        if len(kids) >= at_least:
            return kids
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the workers never started")


def mapped_files(process: psutil.Process) -> str:
    with open(f"/proc/{process.pid}/maps", encoding="utf-8") as fh:
        return fh.read()


def interrupt(
    tmp_path: Path, module: str, out: Path, sig: int, whole_group: bool, *extra: str, loaded: str = ""
) -> tuple[int, str]:
    """Start `python -m module` on a large input with two workers, signal it mid-run (once every process maps
    a file named `loaded`), return (status, stderr) once it has exited; assert that none of its processes
    outlives it by more than a few seconds, and that none of them ever loaded torch."""
    src = big_input(tmp_path / "big.jsonl", 20000)
    args = [sys.executable, "-m", module, "--jsonl", str(src), "--image-root", str(IMAGES), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [*args, "--workers", "2", "--no-progress", *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal gives a command (Ctrl-C reaches all)
    )
    try:
        kids = children_of(process, at_least=3)  # two workers and multiprocessing's resource tracker
        workers = [p for p in kids if "resource_tracker" not in " ".join(p.cmdline())]
        deadline = time.monotonic() + 30
        while not all(loaded in mapped_files(p) for p in [psutil.Process(process.pid), *workers]):
            assert time.monotonic() < deadline, f"{loaded} never loaded"
            time.sleep(0.05)
        for p in [psutil.Process(process.pid), *workers]:  # prep needs no torch (~0.5 GB per process)
            assert "torch" not in mapped_files(p), p.cmdline()
        time.sleep(0.2)  # the workers are checking rows now
        assert process.poll() is None, "the run finished before the signal: make the input larger"
        if whole_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        _, err = process.communicate(timeout=30)
        gone, alive = psutil.wait_procs(kids, timeout=5)
        assert not alive, f"orphaned: {[p.cmdline() for p in alive]}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, err.decode()


def test_ctrl_c_stops_prepare_and_its_workers_and_writes_nothing(tmp_path, tiny_vl_dir):
    """Also: with --tokenizer, neither the main process nor a worker maps torch (item 8 of issue 14)."""
    out = tmp_path / "out"
    tokenizer = ["--tokenizer", tiny_vl_dir]
    status, err = interrupt(
        tmp_path, "data_prep.wethink", out, signal.SIGINT, True, *tokenizer, loaded="/tokenizers/"
    )
    assert status == 130 and "interrupted by SIGINT" in err and "Traceback" not in err, err
    assert not out.exists() or list(out.iterdir()) == []  # no train.parquet, no partial file, no spool


def test_sigterm_stops_the_sft_export_and_its_workers_and_writes_nothing(tmp_path):
    out = tmp_path / "sft" / "wethink_sft.parquet"
    status, err = interrupt(tmp_path, "data_prep.sft", out, signal.SIGTERM, whole_group=False)
    assert status == 143 and "interrupted by SIGTERM" in err and "Traceback" not in err, err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_sigkill_of_the_main_process_takes_its_workers_with_it(tmp_path):
    """SIGKILL cannot be handled: the workers still go (the kernel signals them), and nothing looks complete."""
    out = tmp_path / "out"
    status, _ = interrupt(tmp_path, "data_prep.wethink", out, signal.SIGKILL, whole_group=False)
    assert status == -signal.SIGKILL
    assert not any((out / name).exists() for name in OUTPUTS)
