"""Build step only (the project is configured in pyproject.toml): the wheel carries the
repository's layers/, atlases/ and data/ (the source of truth, never duplicated in git) as
package data under mbm_sig/_definitions/."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DEFINITIONS = ("layers", "atlases", "data")


class BuildWithDefinitions(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return            # an editable install reads the checkout's folders
        target = Path(self.build_lib) / "mbm_sig" / "_definitions"
        shutil.rmtree(target, ignore_errors=True)          # a file removed from git leaves the wheel too
        for name in DEFINITIONS:
            shutil.copytree(ROOT / name, target / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": BuildWithDefinitions})
