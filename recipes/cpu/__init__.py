"""CPU support for verl 0.9.1: a platform, an HF rollout, named patches (`recipes.cpu.plugin` loads them all),
and the tiny offline Qwen2.5-VL that `--smoke` and the tests run. Importing this package changes nothing."""
