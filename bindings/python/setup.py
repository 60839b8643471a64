"""setuptools hook (the metadata is in pyproject.toml): records, when pip
builds the package, the directory where pkg-config says libbyol is installed,
so that `import byol` loads the library the package was installed against
(byol/_lib.py). pkg-config reads PKG_CONFIG_PATH, so a prefix outside the
system ones is found as a C program's build would find it."""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def pkg_config_libdir() -> str:
    """libbyol's libdir from pkg-config, or "" when it has none."""
    try:
        r = subprocess.run(["pkg-config", "--variable=libdir", "libbyol"],
                           capture_output=True, text=True, check=False)
    except OSError:  # no pkg-config
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


class BuildPyRecordingLibdir(build_py):
    """build_py, then byol/_installed.py with the libdir beside the modules."""

    def run(self):
        super().run()
        target = Path(self.build_lib, "byol", "_installed.py")
        target.write_text(
            '"""Written by setup.py when the package was built: pkg-config\'s libdir\n'
            'of libbyol then ("" if pkg-config did not know it)."""\n\n'
            f"LIBDIR = {pkg_config_libdir()!r}\n"
        )


setup(cmdclass={"build_py": BuildPyRecordingLibdir})
