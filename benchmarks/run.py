"""ConfigGen benchmarks. Every figure is printed beside a baseline measured in the same run.

python benchmarks/run.py            # everything
python benchmarks/run.py load gen   # some of it: hot, load, import, gen, flags, otel, build,
                                    # stores, server, exchange
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from configgen.pipeline import generate, render  # noqa: E402
from configgen.settings import load_settings  # noqa: E402

ENV = {
    "BENCH_SERVER_PORT": "9000",
    "BENCH_SERVER_TIMEOUT": "12.5",
    "BENCH_SERVER_DEBUG": "true",
    "BENCH_SERVER_ALLOWED_HOSTS": "a.example,b.example",
    "BENCH_DATABASE_URL": "postgres://db/app",
    "BENCH_DATABASE_PASSWORD": "s3cret",
    "BENCH_DATABASE_POOL_SIZE": "20",
    "BENCH_DATABASE_POOL_TIMEOUT": "2.5",
    "BENCH_DATABASE_ECHO": "false",
    "BENCH_CACHE_URL": "redis://cache:6379/1",
    "BENCH_CACHE_TTL": "60",
    "BENCH_CACHE_ENABLED": "false",
    "BENCH_CACHE_PREFIX": "bench",
    "BENCH_LOGGING_JSON": "true",
    "BENCH_LOGGING_FILE": "/var/log/app.log",
    "BENCH_LOGGING_ROTATE_MB": "50",
    "BENCH_SERVER_HOST": "10.0.0.1",
    "BENCH_SERVER_WORKERS": "16",
    "BENCH_LOGGING_LEVEL": "WARNING",
    "BENCH_DATABASE_POOL_SIZE_MAX": "ignored",
}
assert len(ENV) == 20


def per_call(function: Callable[[], object] | str, repeat: int = 7, **names: object) -> float:
    """Best-of-*repeat* seconds per call, each repeat long enough to be measured well.

    *function* is a callable, or a statement timed as written with *names* as globals
    (so that a plain attribute read is not measured inside a function call).
    """
    timer = (
        timeit.Timer(function, globals=names)
        if isinstance(function, str)
        else timeit.Timer(function)
    )
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def interleaved(
    cases: dict[str, Callable[[], object] | str], rounds: int = 7, **names: object
) -> dict[str, float]:
    """Best seconds per call of each case, the cases timed in turn in every round, so that
    a busy machine weighs on all of them alike."""
    timers = {
        name: timeit.Timer(case, globals=names) if isinstance(case, str) else timeit.Timer(case)
        for name, case in cases.items()
    }
    numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name])
    return best


def goal(text: str, met: bool) -> str:
    return f"(goal: {text}: {'met' if met else 'NOT met'})"


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:8.2f} {unit}"
    return f"{seconds / 1e-9:8.2f} ns"


def row(name: str, seconds: float, baseline: float | None = None, note: str = "") -> None:
    ratio = f"{baseline / seconds:7.1f}x faster" if baseline else ""
    print(f"  {name:<48} {fmt(seconds)}  {ratio} {note}".rstrip())


def import_path(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_project(root: Path, config: str) -> Path:
    (root / "src" / "bench").mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(config, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench"\n[tool.configgen]\nconfig = "config.toml"\n'
        'package = "src/bench"\nenv-prefix = "BENCH_"\n',
        encoding="utf-8",
    )
    return root


PYDANTIC_MODULE = textwrap.dedent(
    """
    from typing import Literal

    from pydantic import BaseModel, Field, SecretStr
    from pydantic_settings import (
        BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource,
    )

    class Server(BaseModel):
        host: str = "0.0.0.0"
        port: int = Field(8080, ge=1, le=65535)
        workers: int = Field(4, ge=1, le=64)
        timeout: float = 30.0
        debug: bool = False
        allowed_hosts: list[str] = ["localhost"]

    class Database(BaseModel):
        url: str = "postgres://localhost/app"
        password: SecretStr = SecretStr("")
        pool_size: int = Field(10, ge=1, le=100)
        pool_timeout: float = 5.0
        echo: bool = False

    class Cache(BaseModel):
        url: str = "redis://localhost:6379/0"
        ttl: int = Field(300, ge=0)
        enabled: bool = True
        prefix: str = "app"

    class Logging(BaseModel):
        level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
        json_: bool = Field(False, alias="json")
        file: str = ""
        rotate_mb: int = 100

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="BENCH_", env_nested_delimiter="_",
                                          env_nested_max_split=1, toml_file=TOML_FILE)
        server: Server = Server()
        database: Database = Database()
        cache: Cache = Cache()
        logging: Logging = Logging()

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
    """
)


@dataclasses.dataclass(frozen=True)
class Section:
    values: dict[str, object]


def hand_written_loader(path: Path, env: dict[str, str]) -> object:
    """What a careful person writes with the standard library alone, for the same schema."""
    import tomllib  # the benchmarks run on Python 3.11+

    with open(path, "rb") as file:
        data = tomllib.load(file)
    sections = {}
    for name, defaults in DEFAULTS.items():
        merged = {**defaults, **data.get(name, {})}
        for key, default in defaults.items():
            raw = env.get(f"BENCH_{name.upper()}_{key.upper()}")
            if raw is None:
                continue
            if isinstance(default, bool):
                merged[key] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                merged[key] = int(raw)
            elif isinstance(default, float):
                merged[key] = float(raw)
            elif isinstance(default, list):
                merged[key] = raw.split(",")
            else:
                merged[key] = raw
        sections[name] = Section(merged)
    return sections


DEFAULTS: dict[str, dict[str, object]] = {}


def bench_load(tmp: Path) -> None:
    global DEFAULTS
    import tomllib

    print("load_config(): defaults + TOML file + 20 environment overrides, 4 sections, 19 keys")
    root = make_project(tmp / "load", (HERE / "bench_config.toml").read_text(encoding="utf-8"))
    generate(load_settings(root))
    generated = import_path(root / "src" / "bench" / "configgen_config.py", "bench_config")
    override = HERE / "override.toml"
    config = generated.load_config(override, env=ENV)
    assert config.server.port == 9000 and config.logging.level == "WARNING"
    DEFAULTS = tomllib.loads((HERE / "bench_config.toml").read_text(encoding="utf-8"))

    ours = per_call(lambda: generated.load_config(override, env=ENV))
    hand = per_call(lambda: hand_written_loader(override, ENV))
    results = [
        ("configgen load_config()", ours),
        ("hand-written stdlib loader (no validation)", hand),
    ]
    try:
        module_file = tmp / "pydantic_load.py"
        module_file.write_text(
            f"TOML_FILE = {str(override)!r}\n{PYDANTIC_MODULE}", encoding="utf-8"
        )
        settings_class = import_path(module_file, "pydantic_load").Settings
        saved = dict(os.environ)
        # the same values in pydantic-settings' own spelling: lists as JSON
        os.environ.update({**ENV, "BENCH_SERVER_ALLOWED_HOSTS": '["a.example", "b.example"]'})
        try:
            loaded = settings_class()  # type: ignore[operator]
            assert loaded.server.port == 9000, loaded
            pydantic = per_call(lambda: settings_class())  # type: ignore[operator]
        finally:
            os.environ.clear()
            os.environ.update(saved)
        results.append(("pydantic-settings BaseSettings()", pydantic))
    except ImportError:
        pydantic = None
        print("  (pydantic-settings not installed: pip install pydantic-settings)")
    for name, seconds in results:
        print(f"  {name:<48} {fmt(seconds)}")
    if pydantic:
        print(
            f"  ratio: configgen is {pydantic / ours:.1f}x faster than pydantic-settings (goal: >= 10x)"
        )
    print(
        f"  ratio: configgen costs {ours / hand:.2f}x the hand-written loader, which validates nothing"
    )


def bench_import(tmp: Path) -> None:
    print("import time in a fresh interpreter, bytecode cached (median of 15, from -X importtime)")
    root = make_project(tmp / "imp", (HERE / "bench_config.toml").read_text(encoding="utf-8"))
    generate(load_settings(root))
    pydantic_file = tmp / "pydantic_bench.py"
    pydantic_file.write_text(f"TOML_FILE = None\n{PYDANTIC_MODULE}", encoding="utf-8")

    # Both modules as an install leaves them: byte-compiled, so no run pays for compiling.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def timed(code: str, path: Path) -> float:
        subprocess.run([sys.executable, "-c", code], cwd=path, env=env, check=True)
        samples = []
        for _ in range(15):
            result = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", code],
                cwd=path,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            total = 0
            for line in result.stderr.splitlines():
                parts = line.split("|")
                if len(parts) == 3 and parts[2].strip() == code.split()[-1]:
                    total = int(parts[1])
            samples.append(total * 1e-6)
        return statistics.median(samples)

    ours = timed("import configgen_config", root / "src" / "bench")
    try:
        import pydantic_settings  # noqa: F401

        theirs = timed("import pydantic_bench", tmp)
    except ImportError:
        theirs = None
    print(f"  {'import configgen_config (generated)':<48} {fmt(ours)}")
    if theirs:
        print(f"  {'import a pydantic-settings module, same schema':<48} {fmt(theirs)}")
        print(f"  ratio: the generated module imports {theirs / ours:.1f}x faster (goal: >= 5x)")


def bench_generate(tmp: Path) -> None:
    print("generation time by schema size (read + check + render, no write; best of 3)")
    previous = None
    costs = {}
    for keys in (10, 100, 1_000, 5_000, 10_000, 40_000):
        per_section = 10
        lines = []
        for section in range(keys // per_section):
            lines.append(f"[section_{section}]")
            for key in range(per_section):
                kind = key % 4
                value = ('"text"', "42  # validate: min=0", "1.5", "true")[kind]
                lines.append(f"key_{key} = {value}")
        root = make_project(tmp / f"gen{keys}", "\n".join(lines) + "\n")
        settings = load_settings(root)
        generation = render(settings)
        assert generation.ok, generation.diagnostics[:3]
        repeat = 1 if keys >= 40_000 else 3
        seconds = min(
            timeit.repeat(lambda settings=settings: render(settings), number=1, repeat=repeat)
        )
        per_key = seconds / keys
        growth = (
            f"  {per_key / previous:4.2f}x the per-key cost of the size before" if previous else ""
        )
        print(f"  {keys:>6} keys  {fmt(seconds)}  ({fmt(per_key).strip()} per key){growth}")
        previous = costs[keys] = per_key
    ratio = costs[40_000] / costs[5_000]
    print(
        f"  per-key cost at 40,000 keys: {ratio:.2f}x that at 5,000 {goal('<= 1.3x', ratio <= 1.3)}"
    )
    print("  goal: linear (per-key cost flat), 10,000 keys in under 2 s")


def bench_flags(tmp: Path) -> None:
    print("flag getters (best of 7, per call)")
    root = make_project(tmp / "flags", "[server]\nport = 8080\n")
    (root / "flags.toml").write_text((HERE / "bench_flags.toml").read_text(encoding="utf-8"))
    (root / "src" / "bench" / "__init__.py").write_text("")
    generate(load_settings(root))
    flags_module = import_path(root / "src" / "bench" / "configgen_flags.py", "bench_flags_flags")

    @dataclasses.dataclass(frozen=True, slots=True)
    class Frozen:
        new_checkout: bool = False

    frozen = Frozen()
    memory = flags_module.Flags(flags_module.MemoryStore({"new_checkout": True}))
    composite = flags_module.Flags(
        flags_module.CompositeStore(
            flags_module.MemoryStore(),
            flags_module.FileStore(tmp / "missing.toml"),
            flags_module.MemoryStore({"new_checkout": True}),
        )
    )
    ctx = flags_module.EvaluationContext("user-12345")
    keys = iter(range(10**12))
    found = interleaved(
        {
            "attribute": "frozen.new_checkout",
            "getter": "memory.new_checkout()",
            "chained": "composite.new_checkout()",
            "percent": "memory.search.new_ranker(ctx)",
            "cold": lambda: memory.search.new_ranker(
                flags_module.EvaluationContext(f"u{next(keys)}")
            ),
        },
        frozen=frozen,
        memory=memory,
        composite=composite,
        ctx=ctx,
    )
    attribute, getter, chained = found["attribute"], found["getter"], found["chained"]
    percent, percent_cold = found["percent"], found["cold"]
    print(f"  {'frozen dataclass attribute read':<48} {fmt(attribute)}")
    print(
        f"  {'flags.new_checkout() over MemoryStore':<48} {fmt(getter)}"
        f"  {getter / attribute:.1f}x the attribute read (goal: <= 5x)"
    )
    print(
        f"  {'flags.new_checkout() over CompositeStore of 3':<48} {fmt(chained)}"
        f"  {chained / getter:.2f}x MemoryStore alone (goal: <= 1.5x)"
    )
    print(f"  {'flags.search.new_ranker(ctx), same key again':<48} {fmt(percent)}")
    print(f"  {'flags.search.new_ranker(ctx), a new key each call':<48} {fmt(percent_cold)}")
    try:
        from openfeature import api
        from openfeature.evaluation_context import EvaluationContext as OFContext
        from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
    except ImportError:
        print("  (openfeature-sdk not installed: pip install openfeature-sdk)")
        return
    api.set_provider(InMemoryProvider({
        "new_checkout": InMemoryFlag("on", {"on": True, "off": False}),
        "search.new_ranker": InMemoryFlag("off", {"on": True, "off": False}),
    }))  # fmt: skip
    client = api.get_client()
    of_context = OFContext("user-12345")
    assert client.get_boolean_value("new_checkout", False) is True
    theirs = interleaved(
        {
            "plain": 'client.get_boolean_value("new_checkout", False)',
            "ctx": 'client.get_boolean_value("search.new_ranker", False, ctx)',
        },
        client=client,
        ctx=of_context,
    )
    openfeature, openfeature_ctx = theirs["plain"], theirs["ctx"]
    print(f"  {'OpenFeature get_boolean_value (in-memory)':<48} {fmt(openfeature)}")
    print(f"  {'OpenFeature get_boolean_value with a context':<48} {fmt(openfeature_ctx)}")
    print(
        f"  ratio: the static getter is {openfeature / getter:.0f}x faster than OpenFeature"
        " (goal: >= 200x)"
    )
    print(
        f"  ratio: the percent flag with a context is {openfeature_ctx / percent:.0f}x faster"
        f" (goal: >= 10x); {openfeature_ctx / percent_cold:.1f}x for a new key each call"
    )


def bench_build(tmp: Path) -> None:
    print("wheel builds of the example (hatchling in a fresh interpreter, median of 5)")
    example = REPO / "examples" / "hatch-service"
    hooked = tmp / "hooked"
    bare = tmp / "bare"
    shutil.copytree(example, hooked, ignore=shutil.ignore_patterns("configgen_*.py"))
    shutil.copytree(example, bare, ignore=shutil.ignore_patterns("configgen_*.py"))
    generate(load_settings(bare))  # bare hatchling ships the modules generated beforehand
    text = (bare / "pyproject.toml").read_text(encoding="utf-8")
    text = text.replace('requires = ["hatchling", "python-configgen"]', 'requires = ["hatchling"]')
    (bare / "pyproject.toml").write_text(text.replace("[tool.hatch.build.hooks.configgen]\n", ""))
    code = "from hatchling.build import build_wheel; build_wheel(%r)"
    # as installed code runs: byte-compiled (the first build writes the bytecode)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def build(project: Path) -> float:
        out = tmp / "out"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code % str(out)], cwd=project, check=True,
                       capture_output=True, env=env)  # fmt: skip
        return time.perf_counter() - start

    module = hooked / "src" / "service" / "configgen_config.py"
    first = build(hooked)
    build(bare)  # its bytecode written, as the hooked one's was
    mtime = module.stat().st_mtime_ns
    hooked_times, bare_times = [], []
    for _ in range(5):  # interleaved, so that both see the same machine
        hooked_times.append(build(hooked))
        bare_times.append(build(bare))
    with_hook, without = statistics.median(hooked_times), statistics.median(bare_times)
    skipped = module.stat().st_mtime_ns == mtime
    config = hooked / "config" / "config.toml"
    changed = []
    for i in range(5):
        config.write_text(config.read_text(encoding="utf-8") + f"\n# edit {i}\n", encoding="utf-8")
        changed.append(build(hooked))
    print(f"  {'bare hatchling, modules generated beforehand':<48} {fmt(without)}")
    print(
        f"  {'with the hook, inputs unchanged':<48} {fmt(with_hook)}"
        f"  {with_hook / without:.2f}x bare (goal: <= 1.2x)"
    )
    print(
        f"  {'with the hook, config.toml edited each time':<48} {fmt(statistics.median(changed))}"
        f"  {statistics.median(changed) / without:.2f}x bare"
    )
    print(f"  {'with the hook, the first build':<48} {fmt(first)}")
    print(f"  no-change rebuild rendered nothing (module untouched): {skipped}")


WATCHER = """
import sys, time
from configgen.stores import open_store
store = open_store(sys.argv[1], service="bench")
store.wait_synced(10)
seen = {}
def changed():
    value = store.get("max_items")
    if value is not None and value not in seen:
        seen[value] = time.time()
store.watch(changed)
print("ready", flush=True)
sys.stdin.readline()  # the parent says when it is done writing
store.close()
for value, at in seen.items():
    print(value, at)
"""


def bench_stores(tmp: Path) -> None:
    print("stores on loopback: propagation to 10 watching processes, getter cost")
    sys.path.insert(0, str(REPO))
    from tests.servers import Etcd, Redis

    try:
        servers = [("EtcdStore", Etcd(tmp / "e")), ("RedisStore", Redis(tmp / "r"))]
    except BaseException as exc:  # pytest's skip/fail outside pytest
        print(f"  (servers not available: {exc})")
        return
    root = make_project(tmp / "stores", "[server]\nport = 8080\n")
    (root / "flags.toml").write_text('[flags.max_items]\ntype = "int"\ndefault = 50\n')
    (root / "src" / "bench" / "__init__.py").write_text("")
    generate(load_settings(root))
    flags_module = import_path(root / "src" / "bench" / "configgen_flags.py", "bench_stores_flags")
    memory_getter = per_call(
        "flags.max_items()", flags=flags_module.Flags(flags_module.MemoryStore())
    )
    for name, server in servers:
        (tmp / ("e" if name == "EtcdStore" else "r")).mkdir(exist_ok=True)
        server.start()
        try:
            url = (f"etcd://127.0.0.1:{server.port}/bench" if name == "EtcdStore"
                   else f"redis://127.0.0.1:{server.port}/0")  # fmt: skip
            from configgen.stores import open_store

            writer = open_store(url, service="bench")
            writer.wait_synced(10)
            children = [
                subprocess.Popen(
                    [sys.executable, "-c", WATCHER, url],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(10)
            ]
            for child in children:
                assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            written = {}
            for i in range(100):
                written[str(i)] = time.time()
                writer.set("max_items", i)
                time.sleep(0.02)
            time.sleep(0.5)
            latencies = []
            for child in children:
                out, _ = child.communicate("done\n", timeout=30)
                for line in out.splitlines():
                    value, at = line.split()
                    if value in written:
                        latencies.append(float(at) - written[value])
            latencies.sort()
            p50 = latencies[len(latencies) // 2]
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(
                f"  {name}: {len(latencies)} of 1000 changes seen; propagation p50 {fmt(p50).strip()},"
                f" p99 {fmt(p99).strip()} (goal: p99 < 50 ms)"
            )
            flags = flags_module.Flags(writer)
            getter = per_call("flags.max_items()", flags=flags)
            print(
                f"  {'flags.max_items() over ' + name:<48} {fmt(getter)}"
                f"  {getter / memory_getter:.2f}x over MemoryStore (goal: <= 1.2x)"
            )
            writer.close()
        finally:
            server.stop()


SERVE_WATCHER = """
import sys, time
from configgen.stores import open_store
store = open_store(sys.argv[1], service="bench")
store.wait_synced(10)
seen = {}
def changed():
    value = store.get("f0000")
    if value is not None and value not in seen:
        seen[value] = time.time()
store.watch(changed)
print("ready", flush=True)
sys.stdin.readline()
store.close()
for value, at in seen.items():
    print(value, at)
"""

BASELINE_APP = """
import json, sys
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
import uvicorn
body = open(sys.argv[1], "rb").read()
async def page(request):
    return Response(body, media_type=sys.argv[2])
uvicorn.run(Starlette(routes=[Route("/", page)]), host="127.0.0.1", port=int(sys.argv[3]),
            log_level="warning")
"""


def _wait_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def bench_server(tmp: Path) -> None:
    """configgen serve: pages and the API with 1,000 flags, PUT with audit, propagation."""
    print("configgen serve, 1,000 flags, on loopback")
    try:
        import httpx
    except ImportError:
        print("  (httpx not installed)")
        return
    sys.path.insert(0, str(REPO))
    from tests.servers import Etcd, Redis, free_port

    root = make_project(tmp / "serve", "[server]\nport = 8080\n")
    (root / "flags.toml").write_text("".join(
        f'[flags.f{i:04d}]\ntype = "int"\ndefault = {i}\ndescription = "flag number {i}"\n'
        for i in range(1000)
    ))  # fmt: skip
    server_toml = root / "server.toml"
    token = subprocess.run(
        [sys.executable, "-m", "configgen", "auth", "token", "bench", "--role", "editor",
         "--file", str(server_toml)], capture_output=True, text=True, check=True, cwd=root,
    ).stdout.strip()  # fmt: skip
    auth = {"authorization": f"Bearer {token}"}

    def serve(store: str) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "configgen", "serve", "--project", str(root), "--store", store,
             "--service", "bench", "--server-config", str(server_toml), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/login")
        return process, url

    process, url = serve(f"file://{tmp / 'serve-overrides.toml'}")
    try:
        client = httpx.Client(headers=auth, timeout=30)
        listing = client.get(url + "/api/v1/flags").content
        (tmp / "listing.json").write_bytes(listing)
        base_port = free_port()
        baseline = subprocess.Popen([sys.executable, "-c", BASELINE_APP, str(tmp / "listing.json"),
                                     "application/json", str(base_port)])  # fmt: skip
        base_url = f"http://127.0.0.1:{base_port}/"
        _wait_http(base_url)
        try:
            ours, floor = [], []
            for _ in range(60):  # interleaved
                start = time.perf_counter()
                client.get(url + "/api/v1/flags").raise_for_status()
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                client.get(base_url).raise_for_status()
                floor.append(time.perf_counter() - start)
            (p50, p99), (b50, _) = _percentiles(ours), _percentiles(floor)
            print(f"  {'GET /api/v1/flags (' + str(len(listing) // 1024) + ' KiB)':<48} p50 {fmt(p50).strip()}, "
                  f"p99 {fmt(p99).strip()}; {p50 / b50:.1f}x serving the same bytes from memory")  # fmt: skip
            page_times = []
            for _ in range(30):
                start = time.perf_counter()
                client.get(url + "/", headers={"x-csrf-token": ""})
                page_times.append(time.perf_counter() - start)
            p50, p99 = _percentiles(page_times)
            print(
                f"  {'the flags page, as a token holder':<48} p50 {fmt(p50).strip()}, p99 {fmt(p99).strip()}"
            )
            _bench_ofrep(client, url, root)
        finally:
            baseline.terminate()
            baseline.wait()
    finally:
        process.terminate()
        process.wait()

    stores = [("file", None)]
    for name, kind in (("etcd", Etcd), ("redis", Redis)):
        try:
            stores.append((name, kind(tmp / name)))
        except BaseException as exc:  # pytest's skip/fail outside pytest
            print(f"  ({name} not available: {exc})")
    for name, store_server in stores:
        if store_server is not None:
            (tmp / name).mkdir(exist_ok=True)
            store_server.start()
        try:
            store_url = {"file": f"file://{tmp / 'puts-overrides.toml'}",
                         "etcd": f"etcd://127.0.0.1:{store_server.port if store_server else 0}/bench",
                         "redis": f"redis://127.0.0.1:{store_server.port if store_server else 0}/0"}[name]  # fmt: skip
            process, url = serve(store_url)
            try:
                _bench_puts(client, url, store_url, name)
                if name != "file":
                    _bench_propagation(client, url, store_url, name)
            finally:
                process.terminate()
                process.wait()
        finally:
            if store_server is not None:
                store_server.stop()


def _bench_ofrep(client: Any, url: str, root: Path) -> None:
    """OFREP evaluations over HTTP against the generated getter in process."""
    generate(load_settings(root))
    module = import_path(root / "src" / "bench" / "configgen_flags.py", "serve_flags")
    flags = module.Flags(module.MemoryStore())
    getter = per_call("flags.f0001(ctx)", flags=flags, ctx=module.EvaluationContext("alice"))
    body = {"context": {"targetingKey": "alice", "country": "DE"}}
    single, bulk = [], []
    for _ in range(200):
        start = time.perf_counter()
        client.post(url + "/ofrep/v1/evaluate/flags/f0001", json=body).raise_for_status()
        single.append(time.perf_counter() - start)
    for _ in range(20):
        start = time.perf_counter()
        client.post(url + "/ofrep/v1/evaluate/flags", json=body).raise_for_status()
        bulk.append(time.perf_counter() - start)
    one, every = statistics.median(single), statistics.median(bulk)
    print(
        f"  {'OFREP, one flag':<48} {1 / one:,.0f}/s, {fmt(one).strip()} each; "
        f"{one / getter:,.0f}x the generated getter in process ({fmt(getter).strip()})"
    )
    print(
        f"  {'OFREP bulk, 1,000 flags':<48} {1 / every:,.0f}/s, {fmt(every / 1000).strip()} a flag; "
        f"{every / 1000 / getter:,.0f}x the getter"
    )


def _bench_puts(client: Any, url: str, store_url: str, name: str) -> None:
    from configgen.stores import open_store

    raw = open_store(store_url, service="bench") if not store_url.startswith("file:") else None
    ours, floor = [], []
    for i in range(100):  # interleaved: a PUT with compare-and-set and audit, and a bare write
        start = time.perf_counter()
        tag = client.get(url + "/api/v1/flags/f0001").headers["etag"]
        client.put(
            url + "/api/v1/flags/f0001", json={"value": i}, headers={"if-match": tag}
        ).raise_for_status()
        ours.append(time.perf_counter() - start)
        if raw is not None:
            start = time.perf_counter()
            raw.set("f0002", i)
            floor.append(time.perf_counter() - start)
    if raw is not None:
        raw.close()
    per_second = len(ours) / sum(ours)
    note = (f"; a bare store write: {len(floor) / sum(floor):,.0f}/s, {statistics.median(ours) / statistics.median(floor):.0f}x"
            if floor else "")  # fmt: skip
    print(f"  {'GET + PUT with audit, ' + name:<48} {per_second:,.0f}/s{note}")


def _bench_propagation(client: Any, url: str, store_url: str, name: str) -> None:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SERVE_WATCHER, store_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    written = {}
    for i in range(1000, 1050):
        tag = client.get(url + "/api/v1/flags/f0000").headers["etag"]
        written[str(i)] = time.time()
        client.put(
            url + "/api/v1/flags/f0000", json={"value": i}, headers={"if-match": tag}
        ).raise_for_status()
        time.sleep(0.02)
    time.sleep(0.5)
    latencies = []
    for child in children:
        out, _ = child.communicate("done\n", timeout=30)
        for line in out.splitlines():
            value, at = line.split()
            if value in written:
                latencies.append(float(at) - written[value])
    p50, p99 = _percentiles(latencies)
    print(f"  {'API change -> 10 watching processes, ' + name:<48} p50 {fmt(p50).strip()}, "
          f"p99 {fmt(p99).strip()} ({len(latencies)} of 500 seen; goal: p99 < 50 ms)")  # fmt: skip


def bench_exchange(tmp: Path) -> None:
    """Import of 1,000 values per store, and webhook delivery latency after a change."""
    print("bulk import and webhooks, on loopback")
    sys.path.insert(0, str(REPO))
    from configgen import bulk, webhooks
    from configgen.flags_reader import read_flags
    from configgen.stores import open_editor, open_store
    from tests.servers import Etcd, Redis
    from tests.test_webhooks import SECRET, Receiver

    flags_file = tmp / "exchange-flags.toml"
    flags_file.write_text(
        "".join(f'[flags.f{i:04d}]\ntype = "int"\ndefault = 0\n' for i in range(1000))
    )
    schema, _ = read_flags(flags_file, "flags.toml")
    assert schema is not None
    flags = {flag.key: flag for flag in schema.flags()}
    text = json.dumps({key: 1 for key in flags})
    stores: list[tuple[str, Any]] = [("file", None)]
    for name, kind in (("etcd", Etcd), ("redis", Redis)):
        try:
            stores.append((name, kind(tmp / f"x-{name}")))
        except BaseException as exc:  # pytest's skip/fail outside pytest
            print(f"  ({name} not available: {exc})")
    for name, server in stores:
        if server is not None:
            (tmp / f"x-{name}").mkdir(exist_ok=True)
            server.start()
        try:
            url = {
                "file": f"file://{tmp / 'exchange-overrides.toml'}",
                "etcd": f"etcd://127.0.0.1:{server.port if server else 0}/bench",
                "redis": f"redis://127.0.0.1:{server.port if server else 0}/0",
            }[name]
            editor = open_editor(url, service="bench")
            wanted, _ = bulk.parse_import(text, flags, format="json")
            start = time.perf_counter()
            differences = bulk.plan(wanted, bulk.stored_values(editor), flags)
            limit = bulk.batch_limit(editor)
            size = limit or len(differences)
            for at in range(0, len(differences), size):
                editor.change_many(bulk.changes(differences[at : at + size], editor, actor="bench"))
            imported = time.perf_counter() - start
            raw = open_store(url, service="bench") if name != "file" else None
            bare = None
            if raw is not None:
                start = time.perf_counter()
                for key in flags:
                    raw.set(key, 2)
                bare = time.perf_counter() - start
                raw.close()
            batches = (
                ""
                if limit is None
                else f" in {len(range(0, len(differences), size))} batches of {size}"
            )
            note = "" if bare is None else f"; 1,000 bare writes one by one: {fmt(bare).strip()}"
            print(
                f"  {'import of 1,000 values, ' + name:<48} {fmt(imported).strip()}{batches}{note}"
            )
            editor.close()
        finally:
            if server is not None:
                server.stop()

    receiver = Receiver()
    receiver.start()
    from configgen import audit

    editor = audit.MemoryEditor()
    dispatcher = webhooks.Dispatcher(
        editor,
        webhooks.MemoryOutbox(),
        webhooks.endpoints([{"url": receiver.url, "secret": SECRET, "allow-private": True}]),
        flags,
    )
    dispatcher.start()
    time.sleep(0.5)
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}

    class Recording(list[Any]):
        def append(self, item: Any) -> None:
            arrived[str(item[1]["data"]["new"])] = time.time()
            super().append(item)

    receiver.messages = Recording()
    for i in range(30):
        sent[str(i)] = time.time()
        editor.change(
            "f0001",
            editor.read("f0001"),
            i,
            audit.new_entry(
                actor="bench", channel="api", flag="f0001", old=editor.read("f0001"), new=i
            ),
        )
        time.sleep(0.1)
    deadline = time.time() + 10
    while len(arrived) < 30 and time.time() < deadline:
        time.sleep(0.05)
    dispatcher.stop()
    receiver.stop()
    latencies = [arrived[k] - sent[k] for k in sent if k in arrived]
    p50, p99 = _percentiles(latencies)
    print(
        f"  {'webhook delivery after a change':<48} p50 {fmt(p50).strip()}, p99 {fmt(p99).strip()} "
        f"({len(latencies)} of 30; goal: under 1 s)"
    )


def bench_otel(tmp: Path) -> None:
    print("flag getters instrumented by configgen.otel (best of 7, per call, side by side)")
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        from configgen.otel import instrument
    except ImportError:
        print(
            "  (OpenTelemetry not installed: pip install 'python-configgen[otel]' opentelemetry-sdk)"
        )
        return
    root = make_project(tmp / "otel", "[server]\nport = 8080\n")
    (root / "flags.toml").write_text((HERE / "bench_flags.toml").read_text(encoding="utf-8"))
    (root / "src" / "bench" / "__init__.py").write_text("")
    generate(load_settings(root))
    flags_module = import_path(root / "src" / "bench" / "configgen_flags.py", "bench_otel_flags")
    store = flags_module.MemoryStore({"new_checkout": True})
    plain = flags_module.Flags(store)
    counted = flags_module.Flags(store)
    reader = InMemoryMetricReader()
    instrument(counted, MeterProvider(metric_readers=[reader]))
    ctx = flags_module.EvaluationContext("user-12345")
    for label, statement in (
        ("flags.new_checkout()", "flags.new_checkout()"),
        ("flags.search.new_ranker(ctx)", "flags.search.new_ranker(ctx)"),
    ):
        ratios = []
        for _ in range(3):  # alternated, so that both see the same machine
            base = per_call(statement, flags=plain, ctx=ctx)
            with_counts = per_call(statement, flags=counted, ctx=ctx)
            ratios.append((with_counts / base, base, with_counts))
        ratio, base, with_counts = min(ratios)
        print(f"  {label + ', plain':<48} {fmt(base)}")
        print(
            f"  {label + ', instrumented':<48} {fmt(with_counts)}"
            f"  {ratio:.2f}x the plain getter (goal: <= 2x)"
        )
    started = time.perf_counter()
    reader.get_metrics_data()
    print(f"  {'one export (InMemoryMetricReader)':<48} {fmt(time.perf_counter() - started)}")


def _sized_config(keys: int, value: Callable[[int], str]) -> str:
    lines = []
    for section in range(keys // 10):
        lines.append(f"[section_{section}]")
        lines += [f"key_{key} = {value(key)}" for key in range(10)]
    return "\n".join(lines) + "\n"


def bench_hot(tmp: Path) -> None:
    """The hot paths of a running service, each beside its baseline, interleaved."""
    import tomllib

    print("hot paths, each against its baseline in the same run (best of 7 interleaved rounds)")
    root = make_project(tmp / "hot", (HERE / "bench_config.toml").read_text(encoding="utf-8"))
    generate(load_settings(root))
    config = import_path(root / "src" / "bench" / "configgen_config.py", "bench_hot_config")
    full = HERE / "full.toml"
    assert config.load_config(full, env={}).server.port == 9090

    def toml_load() -> object:
        with open(full, "rb") as file:
            return tomllib.load(file)

    cases: dict[str, Callable[[], object] | str] = {
        "configgen": lambda: config.load_config(full, env={}),
        "tomllib": toml_load,
    }
    try:
        module_file = tmp / "pydantic_full.py"
        module_file.write_text(f"TOML_FILE = {str(full)!r}\n{PYDANTIC_MODULE}", encoding="utf-8")
        settings_class = import_path(module_file, "pydantic_full").Settings
        assert settings_class().server.port == 9090
        cases["pydantic"] = lambda: settings_class()
    except ImportError:
        print("  (pydantic-settings not installed: pip install pydantic-settings)")
    found = interleaved(cases)
    ours = found["configgen"]
    print(f"  {'load_config(a file that sets all 19 keys)':<52} {fmt(ours)}")
    print(f"  {'tomllib.load() of the same file':<52} {fmt(found['tomllib'])}"
          f"  configgen costs {ours / found['tomllib']:.2f}x {goal('<= 2x', ours <= 2 * found['tomllib'])}")  # fmt: skip
    if "pydantic" in found:
        print(f"  {'pydantic-settings, the same file':<52} {fmt(found['pydantic'])}"
              f"  configgen {found['pydantic'] / ours:.1f}x faster {goal('>= 3x', found['pydantic'] >= 3 * ours)}")  # fmt: skip

    sized: dict[str, Callable[[], object] | str] = {}
    for keys in (100, 1_000):
        project = make_project(tmp / f"hot{keys}", _sized_config(keys, str))
        generate(load_settings(project))
        module = import_path(project / "src" / "bench" / "configgen_config.py", f"bench_hot{keys}")
        data = tmp / f"hot{keys}.toml"
        data.write_text(_sized_config(keys, lambda key: str(key + 1)), encoding="utf-8")
        sized[str(keys)] = lambda module=module, data=data: module.load_config(data, env={})
    per_key = {int(keys): seconds / int(keys) for keys, seconds in interleaved(sized).items()}
    growth = per_key[1_000] / per_key[100]
    print(f"  {'load_config, 1,000-key file, per key':<52} {fmt(per_key[1_000])}"
          f"  {growth:.2f}x the per-key cost at 100 keys {goal('<= 1.5x', growth <= 1.5)}")  # fmt: skip

    project = make_project(tmp / "hotflags", "[server]\nport = 8080\n")
    (project / "flags.toml").write_text((HERE / "bench_flags.toml").read_text(encoding="utf-8"))
    generate(load_settings(project))
    flags_file = project / "src" / "bench" / "configgen_flags.py"
    ff = import_path(flags_file, "bench_hot_flags")
    flags = ff.Flags(ff.MemoryStore())
    assert ff._C_MURMUR3 is not None, "mmh3 is not installed: pip install mmh3"
    try:
        from openfeature import api
        from openfeature.evaluation_context import EvaluationContext as OFContext
        from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
    except ImportError:
        print("  (openfeature-sdk not installed: pip install openfeature-sdk)")
        return
    keys = iter(range(10**12))
    flagd_client = _flagd_client(project)
    new_keys = interleaved({
        "configgen": lambda: flags.search.new_ranker(ff.EvaluationContext(f"u{next(keys)}")),
        "flagd": lambda: flagd_client.get_boolean_value(
            "search.new_ranker", False, OFContext(f"u{next(keys)}")
        ),
    })  # fmt: skip
    ratio = new_keys["flagd"] / new_keys["configgen"]
    print(f"  {'percent flag, a new targeting key every call':<52} {fmt(new_keys['configgen'])}")
    print(f"  {'OpenFeature + flagd evaluator (C mmh3), the same':<52} {fmt(new_keys['flagd'])}"
          f"  configgen {ratio:.1f}x faster {goal('>= 10x', ratio >= 10)}")  # fmt: skip
    pure = subprocess.run(
        [sys.executable, "-c", PURE_PYTHON_ROLLOUT, str(flags_file)],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout.split()  # fmt: skip
    ours_pure, in_memory = float(pure[0]), float(pure[1])
    print(f"  {'the same without mmh3 (pure-Python MurmurHash3)':<52} {fmt(ours_pure)}")
    print(f"  {'OpenFeature in-memory provider, the same':<52} {fmt(in_memory)}"
          f"  configgen {in_memory / ours_pure:.1f}x faster {goal('>= 2x', in_memory >= 2 * ours_pure)}")  # fmt: skip

    @dataclasses.dataclass(frozen=True, slots=True)
    class Frozen:
        beta: bool = False

    returning = ff.EvaluationContext("user-12345", {"country": "US"})
    flags.beta(returning)  # its bucket is remembered
    targeted = interleaved(
        {"attribute": "frozen.beta", "getter": "flags.beta(ctx)"},
        frozen=Frozen(), flags=flags, ctx=returning,
    )  # fmt: skip
    ratio = targeted["getter"] / targeted["attribute"]
    print(f"  {'targeted flag (users, 2 segments, rollout), seen key':<52} {fmt(targeted['getter'])}"
          f"  {ratio:.1f}x an attribute read {goal('<= 20x', ratio <= 20)}")  # fmt: skip
    attributes = {"country": "DE"}
    contexts = interleaved(
        {"configgen": "Ours('user-1', attributes)", "openfeature": "Theirs('user-1', attributes)"},
        Ours=ff.EvaluationContext, Theirs=OFContext, attributes=attributes,
    )  # fmt: skip
    ratio = contexts["configgen"] / contexts["openfeature"]
    print(f"  {'EvaluationContext(key, attributes)':<52} {fmt(contexts['configgen'])}"
          f"  {ratio:.2f}x OpenFeature's ({fmt(contexts['openfeature']).strip()}) {goal('<= 1x', ratio <= 1)}")  # fmt: skip

    fresh = ff.MemoryStore()
    ff.Flags(fresh)
    crowded = ff.MemoryStore()
    ff.Flags(crowded)
    for _ in range(100_000):
        ff.Flags(crowded)
    gc.collect()  # a Flags and its categories refer to each other: the collector frees them
    values = iter(range(10**12))
    stores = interleaved({
        "fresh": lambda: fresh.set("max_items", next(values)),
        "crowded": lambda: crowded.set("max_items", next(values)),
    })  # fmt: skip
    ratio = stores["crowded"] / stores["fresh"]
    print(f"  {'MemoryStore.set() after 100,000 Flags came and went':<52} {fmt(stores['crowded'])}"
          f"  {ratio:.2f}x a fresh store's {goal('<= 3x', ratio <= 3)}")  # fmt: skip
    del api, InMemoryFlag, InMemoryProvider


PURE_PYTHON_ROLLOUT = """
import sys, timeit
sys.modules["mmh3"] = None  # as if not installed
import importlib.util
spec = importlib.util.spec_from_file_location("pure_flags", sys.argv[1])
ff = importlib.util.module_from_spec(spec); sys.modules["pure_flags"] = ff
spec.loader.exec_module(ff)
assert ff._C_MURMUR3 is None
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
api.set_provider(InMemoryProvider({"search.new_ranker": InMemoryFlag("off", {"on": True, "off": False})}))
client = api.get_client()
flags = ff.Flags(ff.MemoryStore())
keys = iter(range(10**12))
timers = [
    timeit.Timer(lambda: flags.search.new_ranker(ff.EvaluationContext(f"u{next(keys)}"))),
    timeit.Timer(lambda: client.get_boolean_value("search.new_ranker", False, EvaluationContext(f"u{next(keys)}"))),
]
numbers = [t.autorange()[0] for t in timers]
best = [float("inf")] * 2
for _ in range(7):
    for i, t in enumerate(timers):
        best[i] = min(best[i], t.timeit(numbers[i]) / numbers[i])
print(*best)
"""


def _flagd_client(project: Path) -> Any:
    """An OpenFeature client whose provider is flagd's evaluator (``openfeature-flagd-core``,
    MurmurHash3 from the ``mmh3`` C extension) over this project's flags, exported."""
    from openfeature import api
    from openfeature.contrib.tools.flagd.core import FlagdCore
    from openfeature.provider import AbstractProvider, Metadata

    from configgen import flagd
    from configgen.flags_reader import read_flags

    schema, problems = read_flags(project / "flags.toml", "flags.toml")
    assert schema is not None, problems
    core = FlagdCore()
    flags = {flag.key: flag for flag in schema.flags()}
    core.set_flags(json.dumps(flagd.document(flags, {s.name: s for s in schema.segments})))

    class FlagdCoreProvider(AbstractProvider):
        def get_metadata(self) -> Metadata:
            return Metadata("flagd-core")

        def resolve_boolean_details(self, flag_key, default_value, evaluation_context=None):  # type: ignore[no-untyped-def]
            return core.resolve_boolean_value(flag_key, default_value, evaluation_context)

        def resolve_string_details(self, flag_key, default_value, evaluation_context=None):  # type: ignore[no-untyped-def]
            return core.resolve_string_value(flag_key, default_value, evaluation_context)

        def resolve_integer_details(self, flag_key, default_value, evaluation_context=None):  # type: ignore[no-untyped-def]
            return core.resolve_integer_value(flag_key, default_value, evaluation_context)

        def resolve_float_details(self, flag_key, default_value, evaluation_context=None):  # type: ignore[no-untyped-def]
            return core.resolve_float_value(flag_key, default_value, evaluation_context)

        def resolve_object_details(self, flag_key, default_value, evaluation_context=None):  # type: ignore[no-untyped-def]
            return core.resolve_object_value(flag_key, default_value, evaluation_context)

    api.set_provider(FlagdCoreProvider(), domain="flagd-core")
    return api.get_client("flagd-core")


BENCHES = {
    "hot": bench_hot,
    "load": bench_load,
    "import": bench_import,
    "gen": bench_generate,
    "flags": bench_flags,
    "otel": bench_otel,
    "build": bench_build,
    "stores": bench_stores,
    "server": bench_server,
    "exchange": bench_exchange,
}


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHES)
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} cores\n")
    with tempfile.TemporaryDirectory() as folder:
        for name in chosen:
            BENCHES[name](Path(folder))
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
