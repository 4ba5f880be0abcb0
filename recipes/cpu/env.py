"""The environment of every verl process in a CPU run (`--smoke`, GRPO and SFT): the local run's environment, or
a cluster job's runtime env. It loads this backend into verl (`recipes.cpu.plugin`) and vLLM's CPU settings."""

from recipes.cpu.vllm_cpu import ENV as VLLM_CPU_ENV

CPU_BACKEND_ENV = {
    **VLLM_CPU_ENV,
    "VERL_USE_EXTERNAL_MODULES": "recipes.cpu.plugin",
    "VERL_PLATFORM": "cpu",
    "TOKENIZERS_PARALLELISM": "false",
    "HYDRA_FULL_ERROR": "1",
}
