"""Build the C core (csrc/) and its Cython bindings into nncore._core.

OpenMP is optional: a compile probe decides. Without it the build goes on
single-threaded with a warning; NNCORE_REQUIRE_OPENMP=1 makes that an error.
No tuning for the build machine (no -march flag): CPU-specific kernels carry
their own target attributes and are picked at run time (csrc/cpu.c).
"""
import glob
import os
import shutil
import sys
import tempfile
import textwrap
import warnings

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools._distutils.ccompiler import new_compiler
from setuptools._distutils.errors import CompileError, LinkError
from setuptools._distutils.sysconfig import customize_compiler

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)


def probe_openmp():
    """Return (compile_flags, link_flags) for OpenMP, or None if it does not build."""
    if os.environ.get("NNCORE_DISABLE_OPENMP") == "1":
        return None
    compiler = new_compiler()
    customize_compiler(compiler)
    tmp = tempfile.mkdtemp(prefix="nncore-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        for flag in ("-fopenmp", "-qopenmp", "/openmp"):
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
                compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=[flag])
                return [flag], [flag]
            except (CompileError, LinkError):
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def openmp_flags():
    found = probe_openmp()
    if found is None:
        msg = ("nncore: OpenMP not found; building single-threaded. "
               "Install an OpenMP-capable compiler (e.g. gcc) for multi-threading.")
        if os.environ.get("NNCORE_REQUIRE_OPENMP") == "1":
            sys.exit(msg + " (NNCORE_REQUIRE_OPENMP=1 makes this an error)")
        warnings.warn(msg)
        return [], [], []
    return found[0], found[1], [("NN_HAVE_OPENMP", "1")]


def c_sources():
    return sorted(glob.glob("csrc/*.c") + glob.glob("csrc/kernels/*.c"))


omp_cflags, omp_ldflags, omp_macros = openmp_flags()
is_msvc = sys.platform == "win32"
base_cflags = ["/O2"] if is_msvc else ["-O3", "-fno-math-errno", "-Wall", "-Wno-unused-function"]
extra_cflags = os.environ.get("NNCORE_CFLAGS", "").split()
extra_ldflags = os.environ.get("NNCORE_LDFLAGS", "").split()

ext = Extension(
    "nncore._core",
    sources=["src/nncore/_core.pyx"] + c_sources(),
    include_dirs=["csrc", numpy.get_include()],
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("csrc/kernels/*.h")),
    define_macros=omp_macros + [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=base_cflags + omp_cflags + extra_cflags,
    extra_link_args=omp_ldflags + extra_ldflags,
)

setup(
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
        include_path=["src/nncore"],
    ),
)
