"""`--smoke` for every GRPO launcher: verl's real trainer, end to end, on this CPU, with a tiny model.

`recipes.wethink.launch` calls `run` with the launcher's overrides and the user's. It takes the CPU backend's
tiny model (`recipes.cpu.tiny_model`, built once, offline, cached), inserts the overrides a CPU needs and tiny
sizes between the launcher's overrides and the user's own (which still come last and win), puts the result
through the gate, and then becomes the recipe's entry point (`recipes.wethink.main`: verl's `main_ppo` plus
per-route metrics) with verl's CPU backend loaded (`recipes.cpu.env`): Ray, the FSDP actor and reference, the
agent loop with the `hf_cpu` rollout (or verl's own vLLM rollout on vLLM's CPU build:
`actor_rollout_ref.rollout.name=vllm`), the reward loop with this recipe's reward and dataset class, validation,
checkpoints. It proves the wiring; it never trains a real model.

With `RAY_ADDRESS` set (a running cluster: `ray start` on every node first) it does not start a Ray of its own: it
submits the same call as a real cluster run is submitted (`recipes.wethink.runtime_env`), with the CPU backend's
settings in the job's runtime env, `trainer.nnodes` from `NNODES`, one logical GPU per node, and one reward worker
per node. Paths must then be ones every node reads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from recipes.cpu.env import CPU_BACKEND_ENV
from recipes.cpu.tiny_model import TINY_MAX_PIXELS, TINY_MIN_PIXELS, ensure_tiny_model

STEPS = 2
SMOKE_RESPONSE_LENGTH = 32  # the taught answer format is 26-28 tokens of the tiny tokenizer, plus EOS
JUDGE_PROBE_TIMEOUT = 3.0
# The local Ray starts no idle worker ahead of need: every actor of the run starts its own anyway, and on a 2-core
# machine the three idle ones cost ~7 s of CPU importing Ray, and their memory, for nothing.
LOCAL_RAY_ENV = {"RAY_enable_worker_prestart": "0", "RAY_prestart_worker_first_driver": "0"}


def judge_reachable(url: str) -> tuple[bool, str]:
    """(reachable, what was seen): any HTTP answer counts (a 401 is the key's problem, not reachability)."""
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/models", timeout=JUDGE_PROBE_TIMEOUT)
        return True, f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        return False, type(exc).__name__


def local_ray_overrides() -> list[str]:
    """The Ray a local smoke starts: one node with one logical GPU (verl's resource pools ask for GPUs)."""
    return [
        "trainer.nnodes=1",
        # a Ray of its own even when one runs on this machine (ray.init would join it through /tmp/ray, and then
        # refuse num_cpus / num_gpus): a cluster is used only through RAY_ADDRESS
        "+ray_kwargs.ray_init.address=local",
        "+ray_kwargs.ray_init.num_gpus=1",
        "ray_kwargs.ray_init.num_cpus=16",  # TransferQueue actors reserve a CPU each; 2 real cores would hang
        "+ray_kwargs.ray_init.include_dashboard=false",
    ]


def cpu_overrides(model: Path) -> list[str]:
    """What a CPU needs (device, one logical GPU per node, the HF rollout, sdpa, no remove-padding), tiny sizes."""
    overrides = [
        "trainer.device=cpu",
        "trainer.n_gpus_per_node=1",
        "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
        f"actor_rollout_ref.model.path={model}",
        "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",  # default is flash_attention_2
        "actor_rollout_ref.model.use_remove_padding=false",  # true takes verl's flash-attn-only Qwen2-VL path
        # bf16 backward of the vision tower is ~70x slower than fp32 on CPU (4.3 s vs 0.06 s for 10 images)
        "+actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype=fp32",
        "+actor_rollout_ref.ref.fsdp_config.mixed_precision.param_dtype=fp32",
        "actor_rollout_ref.rollout.name=hf_cpu",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        "data.train_batch_size=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        f"data.max_response_length={SMOKE_RESPONSE_LENGTH}",
        f"data.min_pixels={TINY_MIN_PIXELS}",
        f"data.max_pixels={TINY_MAX_PIXELS}",
        "data.dataloader_num_workers=0",
        "reward.num_workers=1",
        f"trainer.total_training_steps={STEPS}",
        "trainer.save_freq=1",
        "trainer.test_freq=1",
        "trainer.val_before_train=true",
        "trainer.resume_mode=disable",  # a fresh run each time; pass trainer.resume_mode=auto to resume
    ]
    return overrides


POLICY_ROLLOUT, JUDGE_ROLLOUT = "actor_rollout_ref.rollout", "reward.reward_model.rollout"


def vllm_sections(cfg) -> list[str]:
    """The rollout sections of the composed config that generate with vLLM (the policy's, a hosted judge's)."""
    sections = [POLICY_ROLLOUT] if cfg.actor_rollout_ref.rollout.name == "vllm" else []
    judge = cfg.reward.reward_model
    return sections + ([JUDGE_ROLLOUT] if judge.enable and judge.rollout.name == "vllm" else [])


def backend_overrides(cfg) -> list[str]:
    """vLLM's CPU settings for each rollout the config runs on vLLM (`recipes.cpu.vllm_cpu`); checks it is there."""
    from recipes.cpu.vllm_cpu import check_installed, engine_overrides

    sections = vllm_sections(cfg)
    if sections:
        check_installed()
    return [override for section in sections for override in engine_overrides(section)]


def config_overrides(cfg, model: Path, cluster: bool) -> list[str]:
    """Tiny sizes for what the variant's own config turns on (read from the config composed with the above)."""
    from recipes.wethink.gate import overlong_buffer

    overrides = []
    if cluster:  # verl places reward workers round-robin over nodes: one per node puts one on each
        overrides.append(f"reward.num_workers={cfg.trainer.nnodes}")
    if overlong_buffer(cfg).get("enable"):  # DAPO's overlong buffer must fit inside the tiny response budget
        overrides.append(f"reward.reward_kwargs.overlong_buffer_cfg.len={SMOKE_RESPONSE_LENGTH // 4}")
    if cfg.reward.reward_model.enable:  # the tiny model judges too, on one logical GPU of its own
        overrides += [] if cluster else ["ray_kwargs.ray_init.num_gpus=2"]
        overrides += [
            f"reward.reward_model.model_path={model}",
            "reward.reward_model.n_gpus_per_node=1",
            "reward.reward_model.nnodes=1",
            f"reward.reward_model.rollout.name={cfg.actor_rollout_ref.rollout.name}",  # the policy's backend
            "reward.reward_model.rollout.tensor_model_parallel_size=1",
        ]
    return overrides


def judge_overrides(cfg) -> tuple[list[str], str]:
    """Keep a reachable judge; an unreachable one is switched off so the judge route follows the down policy."""
    kwargs = cfg.reward.custom_reward_function.get("reward_kwargs") or {}
    url = kwargs.get("judge_url")
    policy = kwargs.get("judge_down_policy") or "zero"
    if cfg.reward.reward_model.enable and not url:
        return [], "judge: hosted by verl (the tiny model, through verl's reward router: expect unparseable verdicts)"
    if not url:
        return [], f"judge: none configured; judge-route samples follow judge_down_policy={policy}"
    reachable, seen = judge_reachable(str(url))
    if reachable:
        return [], f"judge: {url} ({seen})"
    note = f"judge: {url} unreachable ({seen}); judge-route samples follow judge_down_policy={policy}"
    return ["reward.custom_reward_function.reward_kwargs.judge_url=null"], note


def build_overrides(config_path: str, config_name: str, launcher: list[str], user: list[str], cluster: bool):
    """(overrides, composed config, notes): launcher's, then CPU + tiny, then the user's (last wins). On a cluster
    the launcher's trainer.nnodes (NNODES) stands and Ray is the cluster's, not one started here. The rollout
    backend is the one the user's overrides pick (`actor_rollout_ref.rollout.name=vllm`), so its CPU settings are
    read from a config composed with them, and inserted before them."""
    from recipes.wethink.gate import compose_config

    model = ensure_tiny_model()
    overrides = launcher + cpu_overrides(model) + ([] if cluster else local_ray_overrides())
    probe = compose_config(config_path, config_name, overrides + user)
    judge, note = judge_overrides(probe)  # config_overrides never touches the judge settings it reads
    overrides += config_overrides(probe, model, cluster) + judge
    overrides += backend_overrides(compose_config(config_path, config_name, overrides + user)) + user
    cfg = compose_config(config_path, config_name, overrides)
    rollouts = f"rollout: {cfg.actor_rollout_ref.rollout.name}" + (
        f", judge rollout: {cfg.reward.reward_model.rollout.name}" if cfg.reward.reward_model.enable else ""
    )
    return overrides, cfg, [f"model: {model}", rollouts, note]


def run(config_path: str, config_name: str, launcher: list[str], user: list[str], ray_address: str | None) -> int:
    """Gate the smoke's config, say what it is, then become its run (local) or its submission (a cluster).
    Exit status 2 for a config the gate refuses or a vLLM rollout without vLLM."""
    from recipes.cpu.vllm_cpu import VllmMissingError
    from recipes.wethink.gate import ConfigRejected, validate

    try:
        overrides, cfg, notes = build_overrides(config_path, config_name, launcher, user, bool(ray_address))
        validate(cfg)
    except ConfigRejected as exc:
        print(f"smoke: config rejected: {exc}", file=sys.stderr)
        return 2
    except VllmMissingError as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return 2
    steps = cfg.trainer.total_training_steps
    print(
        f"smoke: verl's real trainer on CPU with a tiny random Qwen2.5-VL, {steps} GRPO steps of "
        f"{cfg.data.train_batch_size} prompts x {cfg.actor_rollout_ref.rollout.n} rollouts on "
        f"{cfg.actor_rollout_ref.rollout.name}, the model taught only the answer format: checks the wiring, trains "
        "nothing real",
        file=sys.stderr,
    )
    for note in notes + [f"checkpoints: {cfg.trainer.default_local_dir}"]:
        print(f"smoke: {note}", file=sys.stderr)
    hydra_dir = Path(str(cfg.trainer.default_local_dir)) / "hydra"
    entry = [
        "-m", "recipes.wethink.main", f"--config-path={config_path}", f"--config-name={config_name}",
        *overrides, f"hydra.run.dir={hydra_dir}",
    ]  # fmt: skip
    if ray_address:
        from recipes.wethink.runtime_env import job_runtime_env, submit

        runtime_env, env_notes = job_runtime_env(cfg, CPU_BACKEND_ENV)
        for note in env_notes:
            print(f"smoke: runtime env: {note}", file=sys.stderr)
        print(f"smoke: submitting to the cluster at {ray_address}: ray job submit --address={ray_address} -- "
              "python3 -m recipes.wethink.main ...", file=sys.stderr)  # fmt: skip
        submit(ray_address, entry, runtime_env)
        return 1  # not reached
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, **CPU_BACKEND_ENV, **LOCAL_RAY_ENV}
    env.pop("RAY_ADDRESS", None)
    os.execvpe(sys.executable, [sys.executable, *entry], env)
    return 1  # not reached
