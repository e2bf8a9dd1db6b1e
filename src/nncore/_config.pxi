# Bindings for configuration: kernel family, threads, build facts.

def _select_arch(str name):
    """Select the micro-kernel family ("auto", "ref", "avx2", ...). Returns the status code."""
    cdef bytes b = name.encode("ascii")
    return nn_select_arch(b)

def _current_arch():
    return nn_current_arch().decode("ascii")

def _available_archs():
    return [s for s in nn_available_archs().decode("ascii").split(",") if s]

def _set_num_threads(int n):
    nn_set_num_threads(n)

def _get_num_threads():
    return nn_get_num_threads()

def _have_openmp():
    return bool(nn_have_openmp())

def _compiler():
    return nn_compiler().decode("utf-8", "replace")

def _strerror(int status):
    return nn_strerror(status).decode("ascii")
