"""The runtime env of a `ray job submit` (launchers with RAY_ADDRESS set), written for one submission.

Job workers inherit their node's `ray start` environment plus the job's runtime env, never the submitting
shell's: a judge key exported only where you submit reaches no reward worker on another node (HTTP 401 on every
call). So the launcher passes, deliberately and by name, the variable JUDGE_API_KEY_ENV names, plus settings
every node must agree on (TENSORBOARD_DIR), on top of `recipes/wethink/runtime_env.yaml`. The file is private
(0600) and the launcher deletes it when the submission ends; the key's value is never printed. (Ray keeps a job's
runtime env in its cluster state: whoever can read your Ray dashboard can read it.)

    python -m recipes.wethink.runtime_env --base recipes/wethink/runtime_env.yaml --out FILE \
        [--pass NAME ...] [--set KEY=VALUE ...] [-- --config-path=DIR --config-name=NAME OVERRIDES...]

With a config after `--` it composes and validates it first (as --dry-run does: a setting that cannot work stops
the submission here, naming the key) and passes the variable its `judge_api_key_env` names.
"""

from __future__ import annotations

import argparse
import os
import sys
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


def default_tensorboard_dir(cfg) -> str:
    """Where verl's tensorboard logger writes when TENSORBOARD_DIR is unset (its own default), made absolute from
    the submitting directory: under `ray job submit` a relative one would land in each node's job copy."""
    return os.path.abspath(os.path.join("tensorboard_log", str(cfg.trainer.project_name), str(cfg.trainer.experiment_name)))


def config_facts(config_args: list[str]) -> tuple[str, str] | None:
    """(the judge key's variable name or "", the default tensorboard dir) of the composed, validated config;
    None if it is rejected."""
    from recipes.wethink.dry_run import ConfigError, compose_and_validate

    try:
        cfg = compose_and_validate(config_args)
    except ConfigError as exc:
        print(f"error: config rejected: {exc}", file=sys.stderr)
        return None
    kwargs = cfg.reward.custom_reward_function.get("reward_kwargs") or {}
    return str(kwargs.get("judge_api_key_env") or ""), default_tensorboard_dir(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--pass", dest="pass_names", action="append", default=[], metavar="NAME")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("config", nargs=argparse.REMAINDER, help="-- --config-path=.. --config-name=.. overrides")
    args = parser.parse_args(argv)
    tensorboard_dir = None
    if args.config:
        facts = config_facts(args.config[1:] if args.config[0] == "--" else args.config)
        if facts is None:
            return 2
        key_name, tensorboard_dir = facts
        args.pass_names.append(key_name)
    settings = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--set {item!r}: expected KEY=VALUE")
        settings[key] = value
    if tensorboard_dir and not settings.get("TENSORBOARD_DIR"):
        settings["TENSORBOARD_DIR"] = tensorboard_dir
        print(f"runtime env: TENSORBOARD_DIR={tensorboard_dir}", file=sys.stderr)
    base = yaml.safe_load(args.base.read_text()) or {}
    runtime_env, notes = build_runtime_env(base, args.pass_names, settings)
    write_private(args.out, runtime_env)
    for note in notes:
        print(f"runtime env: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
