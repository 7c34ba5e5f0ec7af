"""Builds shmbus._shmbus with the project's CMake, then lets setuptools package it.

Static metadata is in pyproject.toml. Used by `pip install --no-build-isolation .`.
"""
import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).parent.resolve()


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
        python_dir = build_dir / "python"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
            "-DSHMBUS_BUILD_TESTS=OFF", "-DSHMBUS_BUILD_BENCH=OFF", "-DSHMBUS_BUILD_TOOLS=OFF",
            "-DSHMBUS_KILL_POINTS=OFF", f"-DPython_EXECUTABLE={sys.executable}", f"-DSHMBUS_PYTHON_DIR={python_dir}",
            "-DSHMBUS_FAT_LTO_OBJECTS=OFF",  # only the module is installed, and it links with LTO
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_shmbus", "-j", str(os.cpu_count() or 2)])
        built = next((python_dir / "shmbus").glob("_shmbus*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)


setup(ext_modules=[CMakeExtension("shmbus._shmbus")], cmdclass={"build_ext": CMakeBuild})
