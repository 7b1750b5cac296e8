"""The reduction catalogue as a graph (networkx, imported when first used).

Nodes are problems and tasks; edges are the problem maps (problem → problem,
:class:`~commlb.core.ProblemMap`) and the reductions (problem → task).  Every
registered one is an edge (built in, from a plugin package, or given as
``FILE.py:ATTR``), so a chain from a problem to a task is a path: problem maps, then one
reduction.  :func:`chains` finds them; :func:`transfer` builds the composition of one
(:mod:`commlb.chain`) and states the bound it carries to the task (docs/theory.md
§13.1); :func:`draw` draws the graph (matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError, UnknownNameError

__all__ = ["Edge", "edges", "graph", "chains", "transfer", "draw", "Transfer"]


@dataclass(frozen=True)
class Edge:
    """One step of the graph: ``name`` (a registered name or ``FILE.py:ATTR``), its kind
    (``map`` or ``reduction``), the problem it starts from and the problem or task it
    ends at, and where it comes from."""

    name: str
    kind: str
    source: str
    target: str
    origin: str = "built in"


def _origin(kind: str, name: str) -> str:
    from ..plugins import is_file_spec, plugin_origin

    if is_file_spec(name):
        return "file"
    return plugin_origin(kind, name) or "built in"


def _example(factory: Any) -> dict[str, Any]:
    return dict(getattr(factory, "example_params", None) or {})


def step_kind(name: str) -> str:
    """``map`` or ``reduction``: what a step name (or ``FILE.py:ATTR``) is."""
    from ..plugins import is_file_spec
    from ..registry import list_maps, list_reductions

    if is_file_spec(name):
        from ..core import ProblemMap
        from ..plugins import load_file_attr

        obj = load_file_attr(name)
        return "map" if isinstance(obj, ProblemMap) or (isinstance(obj, type) and issubclass(obj, ProblemMap)) \
            else "reduction"
    if name in list_maps():
        return "map"
    if name in list_reductions():
        return "reduction"
    raise UnknownNameError(f"unknown reduction or problem map {name!r}; known: "
                           f"{', '.join(list_maps() + list_reductions())} (or give path/to/file.py:ATTR)")


def edges(extra: Sequence[str] = ()) -> list[Edge]:
    """Every registered problem map and reduction as an edge (each built once at its
    example parameters to read its ends), plus ``extra`` (``FILE.py:ATTR`` specs of a
    reduction or a problem map)."""
    from ..plugins import is_file_spec
    from ..registry import factory_for, get_map, get_reduction, list_maps, list_reductions

    out: list[Edge] = []
    named = [("map", name) for name in list_maps()] + [("reduction", name) for name in list_reductions()]
    for spec in extra:
        if not is_file_spec(spec):
            raise InvalidInputError(f"--with {spec!r}: expected path/to/file.py:ATTR")
        named.append((step_kind(spec), spec))
    for kind, name in named:
        factory = factory_for(kind, name)
        params = _example(factory)
        if is_file_spec(name) and "n" not in params:
            params = {}
        built = (get_map if kind == "map" else get_reduction)(name, **params)
        if kind == "map":
            src, dst = built.source.name, built.target.name
        else:
            src, dst = built.problem.name, built.task.name
        out.append(Edge(name, kind, str(src), str(dst), _origin(kind, name)))
    return out


def graph(extra: Sequence[str] = ()) -> Any:
    """A ``networkx.MultiDiGraph``: nodes ``("problem", name)`` and ``("task", name)``
    (attributes ``kind``, ``name``, ``layer``), one edge per :class:`Edge` (key: its
    name; attributes ``kind``, ``origin``)."""
    import networkx as nx

    g = nx.MultiDiGraph()
    found = sorted(edges(extra), key=lambda e: (e.kind, e.source, e.target, e.name))  # a layout that does not vary
    for e in found:
        g.add_node(("problem", e.source), kind="problem", name=e.source)
    for e in found:
        if e.kind != "map":
            g.add_node(("task", e.target), kind="task", name=e.target)
    for e in found:
        u = ("problem", e.source)
        v = ("problem" if e.kind == "map" else "task", e.target)
        for node in (u, v):
            g.add_node(node, kind=node[0], name=node[1])
        g.add_edge(u, v, key=e.name, kind=e.kind, origin=e.origin)
    # layers for drawing: a problem's is the longest chain of maps into it; tasks last
    maps = nx.DiGraph((u, v) for u, v, d in g.edges(data=True) if d["kind"] == "map")
    depth: dict[Any, int] = {}
    if maps.number_of_nodes() and nx.is_directed_acyclic_graph(maps):
        for node in nx.topological_sort(maps):
            depth[node] = max((depth[p] + 1 for p in maps.predecessors(node)), default=0)
    top = max(depth.values(), default=0)
    for node, data in g.nodes(data=True):
        data["layer"] = top + 1 if data["kind"] == "task" else depth.get(node, 0)
    return g


def _node(g: Any, name: str, role: str) -> Any:
    matches = [n for n in g.nodes if n[1] == name]
    if not matches:
        known = ", ".join(sorted({n[1] for n in g.nodes}))
        raise UnknownNameError(f"{role} {name!r} is not in the reduction graph; its nodes: {known}")
    return sorted(matches)[0]  # a problem before a task of the same name


def chains(source: str | None = None, target: str | None = None, *, extra: Sequence[str] = (),
           max_steps: int = 4, g: Any = None) -> list[list[str]]:
    """Every chain (a list of edge names: problem maps, then a reduction, or maps only
    when ``target`` is a problem) from the problem ``source`` to ``target`` with at most
    ``max_steps`` steps, shortest first.  With only one end given: every chain from it
    to any task, or from any problem into it."""
    import networkx as nx

    if source is None and target is None:
        raise InvalidInputError("give --from PROBLEM, --to TASK, or both")
    if max_steps < 1:
        raise InvalidInputError(f"--max-steps must be >= 1, got {max_steps}")
    g = graph(extra) if g is None else g
    sources = [_node(g, source, "--from")] if source is not None else \
        [n for n in g.nodes if n[0] == "problem"]
    if source is not None and sources[0][0] != "problem":
        raise InvalidInputError(f"--from {source!r} is a task; a chain starts at a problem")
    targets = [_node(g, target, "--to")] if target is not None else [n for n in g.nodes if n[0] == "task"]
    found: list[list[str]] = []
    for s in sources:
        for t in targets:
            if s == t:
                continue
            for path in nx.all_simple_edge_paths(g, s, t, cutoff=max_steps):
                found.append([key for _u, _v, key in path])
    found.sort(key=lambda c: (len(c), c))
    return found


@dataclass
class Transfer:
    """A chain built at source size n: its spec (usable as a reduction name), the
    composition, the steps with their sizes and costs, and the bounds it carries to the
    task (the source's, less the chain's cost)."""

    spec: str
    reduction: Any
    steps: list[dict[str, Any]]
    cost_bits: int
    length: int | None
    bounds: list[Any] = field(default_factory=list)
    check: Any = None
    #: the source problem at its size (``reduction.problem``, or a map's ``source``)
    problem: Any = None
    #: where the chain ends: a task name, or a problem label for a chain of maps
    end: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"chain": self.spec, "steps": self.steps, "cost_bits": self.cost_bits,
                "problem": self.problem.label(), "to": self.end,
                "length": self.length, "bounds": [b.to_json() for b in self.bounds],
                "check": None if self.check is None else self.check.to_json()}


def transfer(spec: str | list[str], n: int | None = None, **params: Any) -> Transfer:
    """Build the chain ``spec`` (``a+b+c`` or a list of step names) with the source
    problem at size ``n`` (default: the first step's example size) and read off what
    it transfers."""
    import numpy as np

    from ..chain import ComposedMap, ComposedReduction
    from ..registry import factory_for, get_map, get_reduction

    steps = spec if isinstance(spec, list) else spec.split("+")
    name = "+".join(steps)
    last_kind = step_kind(steps[-1])
    if n is not None:
        params = {"n": int(n), **params}
    elif "n" not in params:
        params = {**_example(factory_for(step_kind(steps[0]), steps[0])), **params}
    built = (get_reduction if last_kind == "reduction" else get_map)(name, **params)
    if isinstance(built, ComposedReduction):
        info, cost = built.steps(), built.cost_bits
    elif isinstance(built, ComposedMap):
        info = [{"step": m.name, "from": m.source.label(), "to": m.target.label(), "cost_bits": int(m.cost_bits)}
                for m in built.maps]
        cost = built.cost_bits
    elif last_kind == "map":
        info = [{"step": built.name, "from": built.source.label(), "to": built.target.label(),
                 "cost_bits": int(built.cost_bits)}]
        cost = int(built.cost_bits)
    else:  # a single reduction: a chain of one step
        info = [{"step": built.name, "from": built.problem.label(), "to": built.task.name, "cost_bits": 0}]
        cost = 0
    length = None
    problem = built.problem if hasattr(built, "problem") else built.source
    if hasattr(built, "encode"):
        x, y = problem.sample(np.random.default_rng(0))
        length = len(built.encode(x, y))
    end = built.task.name if hasattr(built, "task") else built.target.label()
    return Transfer(name, built, info, cost, length, list(problem.bounds()), problem=problem, end=end)


def draw(path: str, g: Any = None, *, extra: Sequence[str] = ()) -> Any:
    """Draw the graph to ``path`` (.svg or .png): problems as round nodes on the left,
    tasks as square nodes on the right, problem maps dashed; returns the figure."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    g = graph(extra) if g is None else g
    # columns by layer, each column in name order, centred: the same picture on every run
    layers = sorted({d["layer"] for _n, d in g.nodes(data=True)})
    columns = {k: sorted((node for node, d in g.nodes(data=True) if d["layer"] == k), key=lambda node: node[1])
               for k in layers}
    rows = max(len(col) for col in columns.values())
    pos = {node: (float(k), (len(col) - 1) / 2.0 - i) for k, col in columns.items() for i, node in enumerate(col)}
    plt.rcParams["svg.fonttype"] = "none"  # names stay text in an SVG: searchable, selectable
    fig, ax = plt.subplots(figsize=(3.2 * len(layers) + 2, 0.75 * rows + 1.5))
    problems = [n for n in g.nodes if n[0] == "problem"]
    tasks = [n for n in g.nodes if n[0] == "task"]
    nx.draw_networkx_nodes(g, pos, nodelist=problems, node_shape="o", node_color="#cfe2f3",
                           edgecolors="#1f4e79", node_size=1400, ax=ax)
    nx.draw_networkx_nodes(g, pos, nodelist=tasks, node_shape="s", node_color="#fce5cd",
                           edgecolors="#7f4f00", node_size=1400, ax=ax)
    nx.draw_networkx_labels(g, pos, labels={n: n[1] for n in g.nodes}, font_size=7, ax=ax,
                            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1})
    solid = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == "reduction"]
    dashed = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == "map"]
    nx.draw_networkx_edges(g, pos, edgelist=solid, arrows=True, arrowsize=12, node_size=1400, ax=ax,
                           edge_color="#444444")
    nx.draw_networkx_edges(g, pos, edgelist=dashed, arrows=True, arrowsize=12, node_size=1400, ax=ax,
                           style="dashed", edge_color="#1f4e79")
    # each edge is labelled with its name (parallel edges share one label, names stacked)
    names: dict[tuple[Any, Any], list[str]] = {}
    for u, v, key in g.edges(keys=True):
        names.setdefault((u, v), []).append(str(key))
    _label_edges(g, pos, names, ax, fig.get_size_inches())
    ax.set_title("commlb reductions: problems (circles) → tasks (squares); dashed: problem maps; "
                 "each edge is labelled with its name", fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120 if str(path).lower().endswith(".png") else None)
    plt.close(fig)
    return fig


def _label_edges(g: Any, pos: dict[Any, Any], names: dict[tuple[Any, Any], list[str]], ax: Any,
                 size: Any) -> None:
    """Write each edge's name on it, at the point along the edge (from a few candidates)
    farthest from the nodes and the labels already placed, so that no label hides another."""
    import numpy as np

    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    # data units to inches, roughly: distances as the reader sees them
    scale = np.array([float(size[0]) / max(1.0, max(xs) - min(xs) + 1.0),
                      float(size[1]) / max(1.0, max(ys) - min(ys) + 1.0)])
    taken = [np.asarray(pos[n], dtype=float) * scale for n in g.nodes]
    for (u, v), keys in sorted(names.items(), key=lambda item: sorted(item[1])):
        a, b = np.asarray(pos[u], dtype=float), np.asarray(pos[v], dtype=float)
        long_edge = g.nodes[v]["layer"] - g.nodes[u]["layer"] > 1
        # an edge that skips a layer is labelled nearer its target, clear of the middle column's nodes
        ts = (0.78, 0.7, 0.86, 0.62) if long_edge else (0.5, 0.38, 0.62, 0.3, 0.7)
        points = [a + t * (b - a) for t in ts]
        clearance = [min(float(np.linalg.norm(p * scale - q)) for q in taken) for p in points]
        enough = [k for k, c in enumerate(clearance) if c > 0.45]
        best = enough[0] if enough else int(np.argmax(clearance))
        x, y = points[best]
        ax.text(x, y, "\n".join(sorted(keys)), fontsize=6, ha="center", va="center", zorder=3,
                bbox={"facecolor": "white", "edgecolor": "#bbbbbb", "alpha": 0.85, "pad": 0.8})
        taken.append(points[best] * scale)
