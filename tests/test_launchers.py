"""Every launcher's `--dry-run` composes against verl 0.9.1's real config schema and yields what it claims.

Each launcher is run as a user would (`bash LAUNCHER --dry-run ...`), so the test covers the shell (env knobs,
the override list, `"$@"` last) and the Python check (Hydra compose + verl's `validate_config`). The printed
config is read back and checked value by value, then validated again here with verl's own function. Tests of
what the one launch entry decides (which layer wins, the knobs, the mode flag's position, missing inputs) call
the launcher's own line in this process (`tests.repo.launch_in_process`): the same entry and arguments without a
new interpreter, whose import of verl is most of a subprocess dry run's ~10 s.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.repo import LAUNCHER_DIR, REPO, launch_in_process


PAPER = {
    "algorithm.adv_estimator": "grpo",
    "actor_rollout_ref.rollout.n": 5,
    "actor_rollout_ref.actor.use_kl_loss": True,
    "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
    "actor_rollout_ref.actor.kl_loss_coef": 0.01,
    "actor_rollout_ref.actor.optim.lr": 1e-6,
    "actor_rollout_ref.actor.ppo_mini_batch_size": 128,
    "data.max_response_length": 2048,
    "data.custom_cls.path": "pkg://recipes.wethink.dataset",
    "data.custom_cls.name": "WeThinkDataset",
    "reward.custom_reward_function.path": "pkg://rewards.hybrid",
    "reward.custom_reward_function.name": "compute_score",
    "trainer.logger": ["console", "tensorboard"],
    "trainer.resume_mode": "auto",
}

# What each launcher claims on top of the paper settings (with DATA_DIR set, so the paper batch sizes hold).
LAUNCHERS = {
    "run_grpo.sh": {
        "data.train_batch_size": 512,
        "actor_rollout_ref.model.path": "Qwen/Qwen2.5-VL-7B-Instruct",
        "reward.custom_reward_function.reward_kwargs.judge_url": "https://api.deepseek.com/v1",
        "reward.custom_reward_function.reward_kwargs.judge_api_key_env": "DEEPSEEK_API_KEY",
        "data.keep_reward_methods": ["rule", "model"],
    },
    "recipes/wethink/run_wethink_7b.sh": {
        "actor_rollout_ref.model.path": "Qwen/Qwen2.5-VL-7B-Instruct",
        "actor_rollout_ref.rollout.tensor_model_parallel_size": 2,
        "trainer.experiment_name": "wethink_7b_grpo",  # the yaml's, not the launcher's: the yaml decides
    },
    "recipes/wethink/run_wethink_3b.sh": {
        "actor_rollout_ref.model.path": "Qwen/Qwen2.5-VL-3B-Instruct",
        "actor_rollout_ref.rollout.tensor_model_parallel_size": 1,
        "trainer.experiment_name": "wethink_3b_grpo",
    },
    "recipes/wethink/run_rule_only.sh": {
        "data.keep_reward_methods": ["rule"],
        "reward.custom_reward_function.reward_kwargs.judge_url": None,
    },
    "recipes/wethink/run_judge_external.sh": {
        "reward.custom_reward_function.reward_kwargs.judge_url": "http://localhost:8000/v1",
        "reward.custom_reward_function.reward_kwargs.judge_model": "Qwen/Qwen2.5-7B-Instruct",
        "reward.reward_model.enable": False,
    },
    "recipes/wethink/run_wethink_dapo.sh": {
        "algorithm.filter_groups.enable": True,
        "algorithm.filter_groups.metric": "score",
        "actor_rollout_ref.actor.clip_ratio_high": 0.38,
        "reward.reward_manager.name": "dapo",
        "reward.reward_kwargs.overlong_buffer_cfg.enable": True,
        "reward.reward_kwargs.max_resp_len": 2048,
    },
    "recipes/wethink/run_judge_colocated.sh": {
        "reward.reward_model.enable": True,
        "reward.reward_model.model_path": "Qwen/Qwen2.5-7B-Instruct",
        "reward.custom_reward_function.reward_kwargs.judge_model": "Qwen/Qwen2.5-7B-Instruct",
        "reward.reward_model.rollout.name": "vllm",
        "trainer.n_gpus_per_node": 4,
        "reward.custom_reward_function.reward_kwargs.judge_url": None,
    },
}

# The launchers' environment knobs (recipes/wethink/launch.py): unset in tests that check the yaml decides.
KNOBS = set(__import__("recipes.wethink.launch", fromlist=["KNOBS"]).KNOBS["grpo"])

LEGACY_KEY = re.compile(r"(^|[\s\"'])\+?(custom_reward_function|reward_model)\.")


# A prepared data directory as the launchers check it (both files present; --dry-run does not read them).
DATA = Path(tempfile.mkdtemp(prefix="wethink-data-"))
for _split in ("train", "val"):
    (DATA / f"{_split}.parquet").touch()
atexit.register(shutil.rmtree, DATA, ignore_errors=True)


def dry_run(launcher: str, *overrides: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**{k: v for k, v in os.environ.items() if k not in KNOBS}, "DATA_DIR": str(DATA),
                   "PYTHON": sys.executable, **env}  # the launchers' interpreter: this test's, virtualenv or not
    return subprocess.run(
        ["bash", str(REPO / launcher), "--dry-run", *overrides],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def dry_run_here(monkeypatch, capsys, launcher: str, *overrides: str, **env: str | None) -> subprocess.CompletedProcess:
    """`dry_run` in this process (`tests.repo.launch_in_process`), with the same environment."""
    env = {**dict.fromkeys(KNOBS), "DATA_DIR": str(DATA), "PYTHON": sys.executable, **env}
    return launch_in_process(monkeypatch, capsys, REPO / launcher, "--dry-run", *overrides, **env)


def composed(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr[-3000:]
    return OmegaConf.create(result.stdout)


def test_every_launcher_is_covered():
    found = {str(p.relative_to(REPO)) for p in LAUNCHER_DIR.glob("run_*.sh")} | {"run_grpo.sh"}
    found.discard("recipes/wethink/run_sft.sh")  # verl's SFT trainer, not GRPO: tests/test_sft_launcher.py
    assert found == set(LAUNCHERS)


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_launcher_dry_run_composes_what_it_claims(launcher):
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    cfg = composed(dry_run(launcher))
    for key, expected in {**PAPER, **LAUNCHERS[launcher]}.items():
        actual = OmegaConf.select(cfg, key)
        actual = OmegaConf.to_container(actual) if OmegaConf.is_config(actual) else actual
        assert actual == expected, f"{launcher}: {key} = {actual!r}, expected {expected!r}"
    assert cfg.data.train_files == f"{DATA}/train.parquet"
    # Legacy top-level reward sections exist in verl's schema but must stay untouched (0.9.x ignores them).
    for section in ("custom_reward_function", "reward_model"):
        leaves = OmegaConf.to_container(cfg[section])
        assert all(v in (None, {}) for v in _leaves(leaves)), f"{launcher} sets legacy {section}: {leaves}"
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))


def _leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    else:
        yield node


def test_environment_knobs_and_extra_overrides_reach_the_config(monkeypatch, capsys):
    cfg = composed(
        dry_run_here(
            monkeypatch,
            capsys,
            "run_grpo.sh",
            "trainer.total_epochs=7",
            MODEL_PATH="my-org/qwen-vl",  # a hub name (a local path must exist)
            NNODES="4",
            GPUS_PER_NODE="8",
            JUDGE_URL="http://judge:9000/v1",
            JUDGE_MODEL="my-judge",
            JUDGE_API_KEY_ENV="MY_JUDGE_KEY",
            EXPERIMENT_NAME="exp1",
        )
    )
    assert cfg.actor_rollout_ref.model.path == "my-org/qwen-vl"
    assert (cfg.trainer.nnodes, cfg.trainer.n_gpus_per_node) == (4, 8)
    kwargs = cfg.reward.custom_reward_function.reward_kwargs
    assert (kwargs.judge_url, kwargs.judge_model, kwargs.judge_api_key_env) == (
        "http://judge:9000/v1",
        "my-judge",
        "MY_JUDGE_KEY",
    )
    assert cfg.trainer.total_epochs == 7  # "$@" comes last and wins
    assert cfg.trainer.experiment_name == "exp1"


def test_a_fork_copied_anywhere_trains_the_model_its_yaml_names(tmp_path):
    """Copy the 3B launcher and yaml out of the repo, point the launcher at the copy, edit the yaml's model: the
    run is the new model's. No environment knob is set, so nothing but the yaml decides."""
    fork = tmp_path / "my_fork"
    (fork / "config").mkdir(parents=True)
    yaml_text = (LAUNCHER_DIR / "config" / "wethink_3b.yaml").read_text()
    assert "Qwen/Qwen2.5-VL-3B-Instruct" in yaml_text
    (fork / "config" / "wethink_32b.yaml").write_text(
        yaml_text.replace("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-32B-Instruct")
        .replace("experiment_name: wethink_3b_grpo", "experiment_name: wethink_32b_grpo")
    )
    launcher = (LAUNCHER_DIR / "run_wethink_3b.sh").read_text().replace("wethink_3b.yaml", "wethink_32b.yaml")
    (fork / "run_wethink_32b.sh").write_text(launcher)
    env = {**{k: v for k, v in os.environ.items() if k not in KNOBS}, "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(fork / "run_wethink_32b.sh"), "--dry-run"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    cfg = composed(result)
    assert cfg.actor_rollout_ref.model.path == "Qwen/Qwen2.5-VL-32B-Instruct"
    assert cfg.trainer.experiment_name == "wethink_32b_grpo"
    assert cfg.trainer.default_local_dir == "checkpoints/wethink/wethink_32b_grpo"
    assert cfg.actor_rollout_ref.actor.kl_loss_coef == 0.01  # the recipe's shared settings still come with it


def test_which_layer_wins_command_line_then_environment_then_yaml(monkeypatch, capsys):
    def launched(*overrides, **env):
        return composed(dry_run_here(monkeypatch, capsys, "recipes/wethink/run_wethink_3b.sh", *overrides, **env))

    yaml_only = launched()
    from_env = launched(ROLLOUT_TP="4", JUDGE_TIMEOUT="7")
    both = launched("actor_rollout_ref.rollout.tensor_model_parallel_size=8", ROLLOUT_TP="4")
    tp = "actor_rollout_ref.rollout.tensor_model_parallel_size"
    assert [OmegaConf.select(c, tp) for c in (yaml_only, from_env, both)] == [1, 4, 8]
    timeout = "reward.custom_reward_function.reward_kwargs.judge_timeout"
    assert (OmegaConf.select(yaml_only, timeout), OmegaConf.select(from_env, timeout)) == (None, 7)  # unset: rewards/config.py's default


def test_mode_flags_are_accepted_in_any_position(monkeypatch, capsys):
    cfg = composed(launch_in_process(monkeypatch, capsys, REPO / "run_grpo.sh", "trainer.total_epochs=3", "--dry-run",
                                     DATA_DIR=str(DATA)))  # fmt: skip
    assert cfg.trainer.total_epochs == 3


def test_without_data_dir_the_sample_is_used_with_a_batch_that_fits(monkeypatch, capsys):
    result = dry_run_here(monkeypatch, capsys, "run_grpo.sh", DATA_DIR=None, SAMPLE_DATA_DIR=None)
    cfg = composed(result)
    assert cfg.data.train_files.endswith("outputs/sample_data/train.parquet")
    assert cfg.data.train_batch_size == 16


@pytest.mark.parametrize("bad", ["no_such.key=1", "actor_rollout_ref.rollout.nn=5"])
def test_misspelt_key_fails_naming_it(bad):
    assert bad.split("=")[0] in refusal("wethink_7b", bad)


@functools.cache
def _accepted(config_name: str) -> tuple[str, ...]:
    """The arguments a launcher passes for this config, checked once to be accepted (the control of every refusal
    test below: what refuses is the override, not the rest)."""
    from recipes.wethink.gate import compose_and_validate

    argv = (f"--config-path={LAUNCHER_DIR / 'config'}", f"--config-name={config_name}",
            f"data.train_files={DATA}/train.parquet", f"data.val_files={DATA}/val.parquet")  # fmt: skip
    compose_and_validate(list(argv))
    return argv


def refusal(config_name: str, *overrides: str) -> str:
    """What --dry-run's check (compose_and_validate, run in process: one compose, not a launcher start) says about
    the config with these overrides; fails the test if it is accepted."""
    from recipes.wethink.gate import ConfigRejected, compose_and_validate

    with pytest.raises(ConfigRejected) as refused:
        compose_and_validate([*_accepted(config_name), *overrides])
    return f"{type(refused.value).__name__}: {refused.value}"


# Values, not only keys (checked in process: the same compose_and_validate the launchers' --dry-run runs).
@pytest.mark.parametrize(("bad", "named"), [
    ("actor_rollout_ref.actor.optim.lr=abc", "actor_rollout_ref.actor.optim.lr='abc'"),
    ("actor_rollout_ref.rollout.n=five", "actor_rollout_ref.rollout.n='five'"),
    ("actor_rollout_ref.rollout.n=0", "actor_rollout_ref.rollout.n=0"),
    ("algorithm.adv_estimator=grpoo", "did you mean grpo?"),
    ("actor_rollout_ref.rollout.gpu_memory_utilization=1.5", "actor_rollout_ref.rollout.gpu_memory_utilization=1.5"),
    ("actor_rollout_ref.actor.optim.lr=-1e-6", "actor_rollout_ref.actor.optim.lr=-1e-06"),
    ("actor_rollout_ref.actor.clip_ratio_high=high", "actor_rollout_ref.actor.clip_ratio_high='high'"),
    ("trainer.total_epochs=1.5", "trainer.total_epochs=1.5"),
    ("+trainer.total_epoch=1", "did you mean trainer.total_epochs?"),
    ("+actor_rollout_ref.rollout.temprature=0.5", "+actor_rollout_ref.rollout.temprature"),
])  # fmt: skip
def test_values_that_cannot_work_are_refused_naming_the_key(bad, named):
    assert named in refusal("wethink_7b", bad)


def test_added_keys_that_verl_reads_as_a_whole_are_accepted():
    """`+` into the free-form dicts verl passes on (HF overrides, engine kwargs, ray.init, reward kwargs) is fine."""
    from recipes.wethink.gate import compose_and_validate

    compose_and_validate([f"--config-path={LAUNCHER_DIR / 'config'}", "--config-name=wethink_7b",
                          "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
                          "+ray_kwargs.ray_init.num_gpus=1", "+reward.max_concurrent=16",
                          "+reward.custom_reward_function.reward_kwargs.judge_timeout=60"])  # fmt: skip


def _fields_the_yaml_leaves_out(cfg) -> list[str]:
    """Every field of verl's config dataclasses (each section's `_target_`) that the composed yaml does not list."""
    import dataclasses

    from omegaconf import OmegaConf

    from recipes.wethink.gate import _target_class

    found = []

    def walk(node, path: str) -> None:
        cls = _target_class(node)
        if cls is not None:
            found.extend(f"{path}.{f.name}".lstrip(".") for f in dataclasses.fields(cls)
                         if f.name not in node and not f.name.startswith("_"))  # fmt: skip
        for key in node:
            if not OmegaConf.is_missing(node, key) and OmegaConf.is_dict(node._get_node(key)):
                walk(node[key], f"{path}.{key}")

    walk(cfg, "")
    return found


def test_added_fields_that_verls_dataclasses_declare_are_accepted():
    """`+actor_rollout_ref.rollout.enable_sleep_mode=false` is a real field of verl's RolloutConfig that rollout.yaml
    does not list: accepted, as is every other such field of verl's config dataclasses (found by walking the
    composed config, not listed by hand); a misspelt one is still refused (the control)."""
    from recipes.wethink.gate import check_added_keys, compose_and_validate, compose_config

    argv = _accepted("wethink_7b")
    compose_and_validate([*argv, "+actor_rollout_ref.rollout.enable_sleep_mode=false"])
    cfg = compose_config(str(LAUNCHER_DIR / "config"), "wethink_7b", list(argv[2:]))
    fields = _fields_the_yaml_leaves_out(cfg)
    assert "actor_rollout_ref.rollout.enable_sleep_mode" in fields and len(fields) > 100, len(fields)
    check_added_keys(cfg, [f"+{key}=1" for key in fields])
    assert "did you mean actor_rollout_ref.rollout.enable_sleep_mode?" in refusal(
        "wethink_7b", "+actor_rollout_ref.rollout.enable_sleep_mod=false")


@pytest.mark.parametrize(("knob", "value"), [("DATA_DIR", "/nonexistent"), ("MODEL_PATH", "/nonexistent/model")])
def test_inputs_that_are_not_there_are_refused_by_dry_run(knob, value, monkeypatch, capsys):
    result = dry_run_here(monkeypatch, capsys, "run_grpo.sh", **{knob: value})
    assert result.returncode != 0 and f"{knob}={value}" in result.stderr, result.stderr[-2000:]


def test_a_bad_value_through_the_launcher_exits_non_zero_naming_it():
    result = dry_run("run_grpo.sh", "algorithm.adv_estimator=grpoo")
    assert result.returncode != 0 and "algorithm.adv_estimator='grpoo'" in result.stderr


def test_missing_micro_batch_sizes_are_caught_by_verls_validation():
    assert "micro_batch_size" in refusal("wethink_7b", "actor_rollout_ref.actor.use_dynamic_bsz=false")


@pytest.mark.parametrize("mini", ["1000", "100"])
def test_mini_batch_that_does_not_divide_the_step_is_refused(mini):
    assert "ppo_mini_batch_size" in refusal("wethink_7b", f"actor_rollout_ref.actor.ppo_mini_batch_size={mini}")


@pytest.mark.parametrize(
    "bad, named",
    [
        ("+reward.custom_reward_function.reward_kwargs.judge_ulr=http://x/v1", "judge_ulr"),
        ("reward.custom_reward_function.reward_kwargs.judge_down_policy=maybe", "judge_down_policy"),
        ("reward.custom_reward_function.reward_kwargs.judge_url=localhost:8000", "judge_url"),
        ("data.keep_reward_methods=[rule,judge]", "keep_reward_methods"),
    ],
)
def test_bad_reward_settings_are_refused_before_training(bad, named):
    assert named in refusal("wethink_7b", bad)


def test_hosted_judge_without_its_own_pool_is_refused_naming_the_fix():
    """verl 0.9.1's v1 trainer crashes on the first reward of a verl-hosted judge without its own resource pool."""
    refused = refusal("judge_colocated", "reward.reward_model.enable_resource_pool=false")
    assert "reward.reward_model.enable_resource_pool=true" in refused and "data_source" in refused


def test_overlong_buffer_longer_than_the_response_is_refused():
    assert "overlong_buffer_cfg.len" in refusal("wethink_dapo", "data.max_response_length=256")


def test_legacy_reward_keys_are_refused():
    assert "legacy reward keys" in refusal("wethink_7b", "custom_reward_function.path=pkg://rewards.hybrid")


def test_no_launcher_or_config_uses_legacy_reward_keys():
    sources = [REPO / "run_grpo.sh", *LAUNCHER_DIR.glob("*.sh"), *(LAUNCHER_DIR / "config").glob("*.yaml")]
    for path in sources:
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            assert not LEGACY_KEY.search(line), f"{path.name}: legacy reward key in {line!r}"


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_real_run_without_gpu_fails_fast_and_names_dry_run():
    result = subprocess.run(
        ["bash", "run_grpo.sh"], cwd=REPO, env={**os.environ, "DATA_DIR": str(DATA)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1  # as the SFT launcher (tests/test_sft_launcher.py): one code for no GPU
    assert "--dry-run" in result.stderr and "--smoke" in result.stderr and "GPU" in result.stderr


def test_cluster_run_makes_paths_absolute_and_passes_the_judge_key_by_name_only(tmp_path):
    """With RAY_ADDRESS every worker's cwd is Ray's per-job copy on its node: relative paths would scatter."""
    result = subprocess.run(
        ["bash", str(REPO / "run_grpo.sh"), "--dry-run"],
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if k != "DATA_DIR"}, "RAY_ADDRESS": "http://127.0.0.1:8265",
             "CKPT_DIR": "ckpt/run1", "JUDGE_CACHE": "cache/judge.sqlite", "DEEPSEEK_API_KEY": "sk-never-printed"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    cfg = composed(result)
    assert cfg.trainer.default_local_dir == str(tmp_path / "ckpt" / "run1")
    assert cfg.reward.custom_reward_function.reward_kwargs.judge_cache == str(tmp_path / "cache" / "judge.sqlite")
    assert "ray job submit --address=http://127.0.0.1:8265" in result.stderr
    assert "$DEEPSEEK_API_KEY passed to every worker" in result.stderr
    assert "sk-never-printed" not in result.stderr + result.stdout
    # TENSORBOARD_DIR unset: verl's own default, tensorboard_log/<project>/<experiment>, made absolute for the job
    assert f"TENSORBOARD_DIR={tmp_path}/tensorboard_log/wethink/wethink_7b_grpo" in result.stderr


@pytest.mark.parametrize(
    "knob, value", [("DATA_DIR", "no/such/data"), ("MODEL_PATH", "./no/such/model")]
)
def test_cluster_run_refuses_inputs_that_are_not_there(knob, value, tmp_path):
    env = {**os.environ, "RAY_ADDRESS": "http://127.0.0.1:8265", knob: value}
    result = subprocess.run(
        ["bash", str(REPO / "run_grpo.sh"), "--dry-run"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"{knob}={tmp_path}/" in result.stderr


def test_runtime_env_file_is_private_and_carries_the_named_key(tmp_path, monkeypatch):
    import yaml

    from recipes.wethink.runtime_env import main as write_runtime_env

    monkeypatch.setenv("MY_JUDGE_KEY", "sk-123")
    out = tmp_path / "env.yaml"
    base = REPO / "recipes" / "wethink" / "runtime_env.yaml"
    assert write_runtime_env(["--base", str(base), "--out", str(out), "--pass", "MY_JUDGE_KEY",
                              "--pass", "UNSET_KEY_NAME", "--set", "TENSORBOARD_DIR=/abs/tb"]) == 0  # fmt: skip
    assert out.stat().st_mode & 0o777 == 0o600
    env = yaml.safe_load(out.read_text())
    assert env["env_vars"]["MY_JUDGE_KEY"] == "sk-123" and env["env_vars"]["TENSORBOARD_DIR"] == "/abs/tb"
    assert "UNSET_KEY_NAME" not in env["env_vars"] and "tensorboard_log/" in env["excludes"]


def test_a_grpo_and_an_sft_launcher_copied_elsewhere_take_the_same_path_through_the_one_entry(tmp_path):
    """Fork both kinds of run (a launcher and its yaml each, copied out of the repository) and run them from a third
    directory through an interpreter that records how it is called: each launcher hands its own yaml and the user's
    arguments to the one entry (`-m recipes.wethink.launch`), which picks the trainer from the yaml (verl's
    ppo_trainer schema for one, sft_trainer_engine for the other). Control: a fork whose yaml is not there is
    refused by the entry, naming CONFIG."""
    fork, elsewhere = tmp_path / "fork", tmp_path / "elsewhere"
    (fork / "config").mkdir(parents=True)
    elsewhere.mkdir()
    fork = fork.resolve()  # as the launcher finds its yaml (realpath)
    for launcher, yaml_name in (("run_wethink_3b.sh", "wethink_3b.yaml"), ("run_sft.sh", "sft_7b.yaml")):
        shutil.copy(LAUNCHER_DIR / launcher, fork / launcher)
        shutil.copy(LAUNCHER_DIR / "config" / yaml_name, fork / "config" / yaml_name)
    calls = tmp_path / "calls.txt"
    recorder = tmp_path / "python"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\nexec "{sys.executable}" "$@"\n')
    recorder.chmod(0o755)
    env = {**{k: v for k, v in os.environ.items() if k not in KNOBS and k != "SFT_FILE"}, "PYTHON": str(recorder)}

    def launch(launcher: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(fork / launcher), "trainer.total_epochs=3", "--dry-run"], cwd=elsewhere,
                              env=env, capture_output=True, text=True, timeout=300)  # fmt: skip

    grpo, sft = launch("run_wethink_3b.sh"), launch("run_sft.sh")
    assert composed(grpo).trainer.total_epochs == 3 and composed(sft).trainer.total_epochs == 3
    assert "ppo_trainer schema" in grpo.stderr and "sft_trainer_engine" in sft.stderr
    assert composed(sft).model.path == "Qwen/Qwen2.5-VL-7B-Instruct" and "actor_rollout_ref" not in composed(sft)
    assert calls.read_text().splitlines() == [
        f"-m recipes.wethink.launch {fork}/config/{name} -- trainer.total_epochs=3 --dry-run"
        for name in ("wethink_3b.yaml", "sft_7b.yaml")
    ]
    (fork / "config" / "sft_7b.yaml").unlink()  # the control
    missing = launch("run_sft.sh")
    assert missing.returncode == 2 and f"CONFIG={fork}/config/sft_7b.yaml: no such file" in missing.stderr
