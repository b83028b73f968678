"""CPU time of the library's callback functions on a 100 000-element array and a 20 000-property
map (issue #11 item 1).

``python -m bench.library_callbacks`` prints, as JSON, the best of 5 CPU seconds each call
takes (the time of building the array or map taken off); run it in two checkouts, alternately,
to compare them (``PYTHONPATH`` set to each checkout).
"""
from __future__ import annotations

import json
import time

from worker.engine import Engine

BUILD = ("fn keep(x) { x % 2 == 0 } fn twice(x) { x * 2 } "
         "let a = []; for i in 0..100000 { a.push(i); } ")
CALLS = {
    "some": "a.some(|x| x < 0)",
    "all": "a.all(|x| x >= 0)",
    "find": "a.find(|x| x > 99998)",
    "index_of": "a.index_of(|x| x == 99999)",
    "find_map": "a.find_map(|x| if x > 99998 { x })",
    "retain": "a.retain(|x| x % 2 == 0).len",
    "for_each": "a.for_each(|| this += 1); a[5]",
    "zip": "a.zip(a, |x, y| x + y).len",
    "reduce_rev": "a.reduce_rev(|s, x| s + x, 0)",
    "dedup": "a.dedup(|p, q| p == q); a.len",
    "map": "a.map(|x| x + 1).len",
    "sort": "a.sort(|p, q| q - p); a[0]",
    "filter by name": "a.filter(\"keep\").len",
    "map by name": "a.map(Fn(\"twice\")).len",
}
MAP_BUILD = "let m = #{}; for i in 0..20000 { m[`k${i}`] = i; } "
MAP_CALLS = {
    "map filter": "m.filter(|k, v| v % 2 == 0).len()",
    "map map": "m.map(|k, v| v + 1).len()",
    "map retain": "m.retain(|k, v| v % 2 == 0).len()",
    "map filter, this": "m.filter(|k| this % 2 == 0).len()",
}


def best_cpu(engine: Engine, source: str, repeat: int = 5) -> float:
    """The least CPU time of ``repeat`` runs of the compiled ``source``."""
    compiled = engine.compile(source)
    times = []
    for _ in range(repeat):
        start = time.process_time()
        engine.eval(compiled)
        times.append(time.process_time() - start)
    return min(times)


def main() -> int:
    engine = Engine(max_operations=500_000_000, max_array_size=5_000_000, timeout=600)
    building = best_cpu(engine, BUILD + "a.len")
    times = {name: round(best_cpu(engine, BUILD + call) - building, 4)
             for name, call in CALLS.items()}
    building = best_cpu(engine, MAP_BUILD + "m.len()")
    times.update({name: round(best_cpu(engine, MAP_BUILD + call) - building, 4)
                  for name, call in MAP_CALLS.items()})
    print(json.dumps(times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
