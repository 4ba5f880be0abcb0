"""`ray job submit` of a run (a launcher with RAY_ADDRESS set), with a runtime env written for that one submission.

Job workers inherit their node's `ray start` environment plus the job's runtime env, never the submitting
shell's: a judge key exported only where you submit reaches no reward worker on another node (HTTP 401 on every
call). So the submission passes, deliberately and by name, the variable the config's `judge_api_key_env` names,
plus settings every node must agree on (TENSORBOARD_DIR; the CPU backend's for `--smoke`), on top of
`recipes/wethink/runtime_env.yaml`. The file is private (0600) and deleted when the submission ends; the key's
value is never printed. (Ray keeps a job's runtime env in its cluster state: whoever can read your Ray dashboard
can read it.) The config was through the gate before (`recipes.wethink.launch`).

Also a command, to write such a file by hand:

    python -m recipes.wethink.runtime_env --base recipes/wethink/runtime_env.yaml --out FILE \
        [--pass NAME ...] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml


def build_runtime_env(base: Mapping, pass_names: Iterable[str], settings: Mapping[str, str]) -> tuple[dict, list[str]]:
    """(runtime env, notes): `base` plus env_vars `settings` and the named variables this process has."""
    runtime_env = dict(base)
    env_vars = {str(k): str(v) for k, v in (runtime_env.get("env_vars") or {}).items()}
    env_vars.update({str(k): str(v) for k, v in settings.items()})
    notes = []
    for name in pass_names:
        if not name or name == "null":
            continue
        if os.environ.get(name):
            env_vars[name] = os.environ[name]
            notes.append(f"${name} passed to every worker of the job (value not shown)")
        else:
            notes.append(f"${name} is not set here: the judge will refuse requests (HTTP 401) on every node")
    runtime_env["env_vars"] = env_vars
    return runtime_env, notes


def write_private(path: Path, runtime_env: Mapping) -> None:
    """Create `path` readable by its owner only, before anything secret is written into it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(dict(runtime_env), f, sort_keys=False)


REPO_ROOT = Path(__file__).resolve().parents[2]
BASE = Path(__file__).with_name("runtime_env.yaml")


def default_tensorboard_dir(cfg) -> str:
    """Where verl's tensorboard logger writes when TENSORBOARD_DIR is unset (its own default), made absolute from
    the submitting directory: under `ray job submit` a relative one would land in each node's job copy."""
    return os.path.abspath(os.path.join("tensorboard_log", str(cfg.trainer.project_name), str(cfg.trainer.experiment_name)))


def job_runtime_env(cfg, settings: Mapping[str, str]) -> tuple[dict, list[str]]:
    """(runtime env, notes) of a submission of `cfg`: the base file, `settings`, TENSORBOARD_DIR (this process's,
    else verl's default made absolute) and the judge key by the name the config holds."""
    settings = {**settings, "TENSORBOARD_DIR": os.environ.get("TENSORBOARD_DIR") or default_tensorboard_dir(cfg)}
    key_name = (cfg.reward.custom_reward_function.get("reward_kwargs") or {}).get("judge_api_key_env") or ""
    runtime_env, notes = build_runtime_env(yaml.safe_load(BASE.read_text()) or {}, [str(key_name)], settings)
    return runtime_env, [f"TENSORBOARD_DIR={settings['TENSORBOARD_DIR']}", *notes]


def submit_command(ray_address: str, env_file: str, entry: list[str]) -> list[str]:
    """`ray job submit` of `python3 ENTRY` with the repository as the job's working directory."""
    ray_cli = Path(sys.executable).with_name("ray")
    return [str(ray_cli) if ray_cli.exists() else "ray", "job", "submit", f"--address={ray_address}",
            f"--working-dir={REPO_ROOT}", f"--runtime-env={env_file}", "--", "python3", *entry]  # fmt: skip


def submit(ray_address: str, entry: list[str], runtime_env: Mapping) -> None:
    """Become the submission: write the private file, then exec a small process (this module's `--run-then-delete`,
    which imports nothing heavy: the memory of the process that composed the config is freed for the job) that
    runs `ray job submit` and deletes the file when it ends. Exit status: the job's (1 if it failed)."""
    fd, env_file = tempfile.mkstemp(prefix="wethink-runtime-env.", suffix=".yaml")  # mode 0600
    os.close(fd)
    write_private(Path(env_file), runtime_env)
    command = submit_command(ray_address, env_file, entry)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "recipes.wethink.runtime_env", "--run-then-delete", env_file,
                              "--", *command])  # fmt: skip


def run_then_delete(env_file: str, command: list[str]) -> int:
    """Run `command`, then delete `env_file`, whatever ended it (an interrupt included)."""
    import signal
    import subprocess

    try:
        process = subprocess.Popen(command)
        signal.signal(signal.SIGTERM, lambda *_: process.terminate())  # passed on; the file still goes
        while True:
            try:
                code = process.wait()
                break
            except KeyboardInterrupt:  # ray's CLI got it too: let it stop the submission and say so
                continue
        return code if code >= 0 else 128 - code
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(env_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--pass", dest="pass_names", action="append", default=[], metavar="NAME")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--run-then-delete"] and argv[2:3] == ["--"]:
        return run_then_delete(argv[1], argv[3:])
    args = parser.parse_args(argv)
    settings = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        settings[key] = value
    base = yaml.safe_load(args.base.read_text()) or {}
    runtime_env, notes = build_runtime_env(base, args.pass_names, settings)
    write_private(args.out, runtime_env)
    for note in notes:
        print(f"runtime env: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
