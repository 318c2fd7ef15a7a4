"""Argon2id hash and verify: at the parameters ``portico.auth.hashing`` has chosen, and at OWASP's
minimum (m=19 MiB, t=2, p=1), interleaved in the same run.

The chosen parameters are read from a hash the module makes (its PHC string says m, t and p,
however the module happens to expose them), and the module's own ``hash_password``/``verify``
are timed. OWASP's minimum is timed with argon2-cffi's ``PasswordHasher`` directly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from bench.stats import Spread, verdict

PASSWORD = "Quartz-Lantern-Vivid-42"
BUDGET_MS = 100
OWASP_MINIMUM = {"memory_kib": 19 * 1024, "time_cost": 2, "parallelism": 1}


def parameters(phc: str) -> dict[str, int]:
    """m, t and p of an Argon2 PHC string (``$argon2id$v=19$m=65536,t=3,p=1$salt$hash``)."""
    found = re.search(r"\$m=(\d+),t=(\d+),p=(\d+)\$", phc)
    if not found:
        raise ValueError(f"not an Argon2 PHC string: {phc[:30]}...")
    m, t, p = (int(x) for x in found.groups())
    return {"memory_kib": m, "time_cost": t, "parallelism": p}


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    c, w = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> Any:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID
    )


def _attribute(sources: list[Any], *names: str) -> int | None:
    for source in sources:
        for name in names:
            value = getattr(source, name, None)
            if isinstance(value, int):
                return value
    return None


def chosen(hashing: Any) -> tuple[dict[str, Any], Callable[[], Any], Callable[[str], Any]]:
    """The parameters the module uses, how to hash with them and how to verify a hash. In order of
    preference: the PHC string of the module's own ``hash_password`` (timed through the module's
    ``hash_password`` and ``verify``); constants or a settings object the module exposes; argon2-cffi's
    defaults, said so in ``source``."""
    try:
        phc = hashing.hash_password(PASSWORD)
        found = {**parameters(phc), "source": "PHC string of portico.auth.hashing.hash_password"}
        verify = (
            getattr(hashing, "verify", None)
            or _hasher(found["memory_kib"], found["time_cost"], found["parallelism"]).verify
        )
        return found, lambda: hashing.hash_password(PASSWORD), lambda stored: verify(stored, PASSWORD)
    except Exception:  # the module changed shape: look further
        pass
    sources = [hashing, *(getattr(hashing, n) for n in ("PARAMETERS", "SETTINGS", "settings") if hasattr(hashing, n))]
    sources = [s() if callable(s) and not isinstance(s, type) else s for s in sources]
    memory = _attribute(sources, "MEMORY_COST_KIB", "memory_cost_kib", "memory_cost", "memory_kib", "m")
    time_cost = _attribute(sources, "TIME_COST", "time_cost", "t")
    parallelism = _attribute(sources, "PARALLELISM", "parallelism", "p")
    if memory and time_cost and parallelism:
        source = "constants or settings of portico.auth.hashing (its hash_password failed)"
    else:
        from argon2 import PasswordHasher

        default = PasswordHasher()
        memory, time_cost, parallelism = default.memory_cost, default.time_cost, default.parallelism
        source = "argon2-cffi defaults: portico.auth.hashing exposes no parameters the bench can read"
    hasher = _hasher(memory, time_cost, parallelism)
    found = {"memory_kib": memory, "time_cost": time_cost, "parallelism": parallelism, "source": source}
    return found, lambda: hasher.hash(PASSWORD), lambda stored: hasher.verify(stored, PASSWORD)


def measure(runs: int) -> dict[str, Any]:
    from portico.auth import hashing

    chosen_params, chosen_hash_fn, chosen_verify_fn = chosen(hashing)
    chosen_hash = chosen_hash_fn()
    owasp = _hasher(OWASP_MINIMUM["memory_kib"], OWASP_MINIMUM["time_cost"], OWASP_MINIMUM["parallelism"])
    owasp_hash = owasp.hash(PASSWORD)
    chosen_verify_fn(chosen_hash)  # warm-up of both paths
    cases: dict[str, Callable[[], Any]] = {
        "chosen_hash": chosen_hash_fn,
        "chosen_verify": lambda: chosen_verify_fn(chosen_hash),
        "owasp_minimum_hash": lambda: owasp.hash(PASSWORD),
        "owasp_minimum_verify": lambda: owasp.verify(owasp_hash, PASSWORD),
    }
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):  # interleaved, as the cold starts are
        for name, fn in cases.items():
            w, c = _timed(fn)
            wall[name].append(w * 1000)
            cpu[name].append(c * 1000)
    return {
        "chosen": chosen_params,
        "owasp_minimum": OWASP_MINIMUM,
        "budget_ms": BUDGET_MS,
        "ms": {
            name: {
                "wall": Spread.of(wall[name]).as_dict(1),
                "cpu": Spread.of(cpu[name]).as_dict(1),
                "verdict_wall": verdict(Spread.of(wall[name]).p25, Spread.of(wall[name]).p75, BUDGET_MS),
            }
            for name in cases
        },
    }
