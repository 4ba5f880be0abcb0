"""wethink-verl: the WeThink GRPO recipe (hybrid rule + LLM-judge reward) on verl 0.9.1's extension points.

`rewards`, `data_prep` and `recipes` are installed packages so that verl loads them with `pkg://` paths on
every Ray node. The pins follow verl 0.9.1's own lock (its `vllm` / `fsdp` / `cpu` extras); verl's GPU
stack is CUDA 13 (cu130 wheels for torch 2.11.0).
"""

from setuptools import find_packages, setup

VERL = "verl[verl-core]==0.9.1"
TORCH = ["torch==2.11.0", "torchvision==0.26.0"]
# What flash-attn 2.8.3's setup.py imports or lists as setup_requires besides torch: with --no-build-isolation
# they must already be in the environment (setuptools >= 70.1 has the bdist_wheel that `wheel` now forwards to).
FLASH_ATTN_BUILD = ["ninja", "packaging", "psutil", "setuptools>=70.1", "wheel"]

setup(
    name="wethink-verl",
    version="0.1.0",
    description="Open training recipe for WeThink (arXiv 2506.07905) on verl 0.9.1: GRPO with a hybrid reward",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["rewards", "rewards.*", "data_prep", "data_prep.*", "recipes", "recipes.*"]),
    package_data={"recipes": ["*/config/*.yaml", "*/*.yaml", "*/*.sh"], "data_prep": ["synthesize/prompts/*"]},
    install_requires=[
        VERL,
        "transformers==5.9.0",  # verl 0.9.1's lock (its vllm/cpu extras pin exactly this)
        "TransferQueue>=0.1.10",  # imported by the 0.9.1 trainer at start-up
        "qwen-vl-utils>=0.0.14",
        "math-verify[antlr4_9_3]==0.9.0",  # antlr 4.9.3 is what hydra/omegaconf pin
        "ray[default]>=2.41.0",
        "datasets>=3.0",
        "pyarrow>=19.0.0",
        "hydra-core>=1.3.2",
        "omegaconf>=2.3.0",
        "tensorboard",
        "httpx>=0.27",
        "cachetools",  # the reward's in-process verdict cache (also a verl-core dependency)
        "tqdm",
        "matplotlib",
        "pillow",
        "psutil",  # the math pool reads each worker's CPU time (rewards/hard_pool.py)
    ],
    extras_require={
        # What verl 0.9.1's `vllm` and `fsdp` extras pin; CUDA 13 wheels. Install on GPU nodes only.
        # flash-attn (2.8.3 in verl's lock) is not here: PyPI has only its source, whose build imports torch, so
        # pip cannot build it inside an extra (isolated build env, no torch). README "Install": a second step
        # builds it with --no-build-isolation against this torch, using the build tools listed below.
        # `!=0.24.0+cpu`: `==0.24.0` alone also matches the local CPU alias that tests/run.sh installs.
        "gpu": [
            *TORCH,
            "torchaudio==2.11.0",
            "vllm==0.24.0,!=0.24.0+cpu",
            "liger-kernel>=0.8.2",
            *FLASH_ATTN_BUILD,
        ],
        "test": [*TORCH, "pytest>=8", "pytest-asyncio>=0.23", "pytest-xdist>=3.5"],
    },
    entry_points={
        "console_scripts": [
            "wethink-prepare=data_prep.wethink:main",
            "wethink-sft=data_prep.sft:main",
            "wethink-synthesize=data_prep.synthesize.cli:main",
        ]
    },
)
