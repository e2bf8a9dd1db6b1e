"""Resources: no memory growth over many calls, no reference leaks on the arrays
passed in, and the caller's floating-point environment (rounding mode, MXCSR
flush-to-zero / denormals-are-zero) unchanged by every call."""
import ctypes
import ctypes.util
import mmap
import platform
import sys

import numpy as np
import pytest

import nncore.nn as nn
import nncore.optim as optim
from nncore import losses, ops, utils

pytestmark = pytest.mark.kernel

PAGE = mmap.PAGESIZE


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm")


def _small():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3), seed=0)


@linux_only
def test_rss_flat_over_10000_train_steps():
    m = _small()
    opt = optim.Adam(m.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    for _ in range(1000):                      # warm-up: workspace, allocator pools
        m.train_step(X, y, "ce", opt, clip_norm=1.0)
    before = _rss()
    for _ in range(10_000):
        m.train_step(X, y, "ce", opt, clip_norm=1.0)
    grown = _rss() - before
    assert grown < 1 << 20, f"RSS grew by {grown} bytes over 10,000 train steps"


@linux_only
def test_rss_flat_over_10000_predictions():
    m = _small()
    X = np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)
    X64 = X.astype(np.float64)                  # the conversion path too
    for _ in range(1000):
        m.predict(X)
        m(X64)
    before = _rss()
    for _ in range(10_000):
        m.predict(X)
        m(X64)
    grown = _rss() - before
    assert grown < 1 << 20, f"RSS grew by {grown} bytes over 10,000 predictions"


@linux_only
def test_rss_flat_over_model_create_and_free():
    def make():
        m = _small()
        m.train_step(np.ones((4, 8), np.float32), np.zeros(4, np.int64), "ce",
                     optim.SGD(m.parameters(), lr=0.1))
    for _ in range(200):
        make()
    before = _rss()
    for _ in range(2000):
        make()
    assert _rss() - before < 2 << 20


def test_refcounts_of_inputs_unchanged():
    m = _small()
    opt = optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 8)).astype(np.float32)
    X64 = X.astype(np.float64)
    y = rng.integers(0, 3, 20)
    Y = rng.standard_normal((20, 3)).astype(np.float32)
    out = m(X)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 4)).astype(np.float32)
    ce = losses.CrossEntropyLoss()
    calls = [
        lambda: m(X), lambda: m(X64), lambda: m.forward(X, training=True),
        lambda: m.predict(X, batch_size=7), lambda: m.train_step(X, y, "ce", opt),
        lambda: m.train_step(X, Y, "mse", opt, clip_value=0.5),
        lambda: m.evaluate(X, y, loss="ce"),
        lambda: m.fit(X, y, loss="ce", optimizer=opt, epochs=1, batch_size=8, verbose=0),
        lambda: ce(out, y), lambda: ops.matmul(a, b), lambda: ops.matmul(b.T, a.T),
        lambda: ops.relu(a), lambda: ops.softmax(a), lambda: ops.loss("mse", out, Y),
        lambda: utils.clip_grad_norm(m.parameters(), 1.0),
    ]
    arrays = [X, X64, y, Y, out, a, b]
    for call in calls:
        call()                                   # warm-up (caches, lazy imports)
        before = [sys.getrefcount(v) for v in arrays]
        call()
        after = [sys.getrefcount(v) for v in arrays]
        assert before == after, (call, before, after)


# ------------------------------------------------- floating-point environment

_libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
_FE = {"nearest": 0x000, "down": 0x400, "up": 0x800, "zero": 0xC00}   # x86 glibc values


def _read_mxcsr():
    """MXCSR of this thread via a 4-byte stmxcsr stub, or None where that is not possible."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        buf = mmap.mmap(-1, PAGE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError, AttributeError):
        return None
    buf.write(b"\x0f\xae\x1f\xc3")               # stmxcsr [rdi]; ret  (SysV ABI)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    fn = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint32))(addr)
    v = ctypes.c_uint32()
    fn(ctypes.byref(v))
    del fn
    return v.value


def _denormals_work() -> bool:
    """True if this thread keeps denormals (no FTZ/DAZ): checked by arithmetic."""
    tiny = np.float32(1e-39)                      # a float32 denormal
    return bool(tiny * np.float32(1.0) != 0 and np.float32(1e-38) * np.float32(0.01) != 0)


def _env():
    """Rounding mode, MXCSR control bits (DAZ, exception masks, rounding, FTZ: the
    sticky exception FLAGS in bits 0-5 are status, set by any arithmetic), denormals."""
    mx = _read_mxcsr()
    return _libm.fegetround(), None if mx is None else mx & 0xFFC0, _denormals_work()


def _every_call():
    m = nn.Sequential(nn.Linear(6, 40), nn.GELU(), nn.Linear(40, 40), nn.Softplus(),
                      nn.Dropout(0.2), nn.Linear(40, 3), nn.LogSoftmax(), seed=0)
    m64 = nn.Sequential(nn.Linear(6, 8), nn.ELU(), nn.Linear(8, 1), dtype="float64", seed=0)
    opt = optim.Adam(m.parameters(), lr=1e-3)
    opt64 = optim.RMSprop(m64.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6)).astype(np.float32)
    X[0, 0] = 1e-40                               # a denormal input
    y = rng.integers(0, 3, 300)
    a = rng.standard_normal((300, 300)).astype(np.float32)
    return [
        lambda: m(X), lambda: m.predict(X), lambda: m.train_step(X, y, "ce", opt),
        lambda: m64.train_step(X, X[:, :1], "huber", opt64, clip_norm=1.0),
        lambda: ops.matmul(a, a), lambda: ops.matmul(a.astype(np.float64), a.T.astype(np.float64)),
        lambda: ops.gelu(a), lambda: ops.sigmoid(a * 100), lambda: ops.softplus(a),
        lambda: ops.log_softmax(a), lambda: ops.tanh(a.astype(np.float64)),
        lambda: ops.loss("bce_logits", a, (a > 0).astype(np.float32)),
        lambda: ops.dropout(a, 0.3, seed=1),
        lambda: m.fit(X, y, loss="ce", optimizer=opt, epochs=1, verbose=0),
    ]


def test_fp_environment_unchanged_by_every_call():
    calls = _every_call()
    env0 = _env()
    assert env0[2], "denormals already flushed before nncore ran"
    for call in calls:
        call()
        assert _env() == env0, call


@pytest.mark.parametrize("mode", ["up", "down", "zero"])
def test_callers_rounding_mode_is_kept(mode):
    calls = _every_call()
    old = _libm.fegetround()
    assert _libm.fesetround(_FE[mode]) == 0
    try:
        for call in calls:
            call()
            assert _libm.fegetround() == _FE[mode], call
    finally:
        _libm.fesetround(old)
    assert _libm.fegetround() == old
