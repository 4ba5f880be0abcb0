"""Prints the path of the launchers' shared shell code, so a launcher copied anywhere on disk finds it:

    source "$("${PYTHON:-python3}" -m recipes.wethink.common_sh)"
"""

from pathlib import Path

if __name__ == "__main__":
    print(Path(__file__).with_name("common.sh"))
