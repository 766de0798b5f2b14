"""Generators and coroutines: suspensions (⏸), resumptions (▶), and @trace
on generator / async functions."""
import asyncio
import inspect
import re

import pytest

from conftest import assert_golden, children, read_golden, run_py, session, tree_text

from flowtrace import start_tracing, stop_tracing, trace


def tasks_numbered(text):
    """asyncio numbers tasks process-wide: Task-1, Task-2... in run order."""
    return re.sub(r"Task-\d+", "Task-N", text)


# ---------------------------------------------------------------------------
# session subjects

def gen():
    for i in range(2):
        yield i


def helper(x):
    return x


def consumer():
    out = []
    for v in gen():
        out.append(helper(v))
    return out


def inner_gen():
    yield helper(1)


def consume_inner():
    return list(inner_gen())


def echo():
    x = yield 1
    y = yield x + 1
    return y


def drive_echo():
    it = echo()
    a = next(it)
    b = it.send(10)
    try:
        it.send(20)
    except StopIteration as e:
        return (a, b, e.value)


def closable():
    try:
        yield 1
        yield 2
    finally:
        pass


def close_early():
    g = closable()
    next(g)
    g.close()
    return "closed"


async def aleaf(x):
    await asyncio.sleep(0)
    return x * 2


async def amain():
    a = await aleaf(1)
    b = await aleaf(2)
    return a + b


async def agen(n):
    for i in range(n):
        yield i


async def aconsume():
    return [x async for x in agen(2)]


# ---------------------------------------------------------------------------
# @trace subjects

@trace
def countdown(n):
    while n > 0:
        yield n
        n -= 1


@trace
def tgen_return(n):
    total = 0
    for i in range(n):
        got = yield i
        total += got or 0
    return total


@trace
async def add(a, b):
    await asyncio.sleep(0)
    return a + b


@trace
async def tagen(n):
    for i in range(n):
        yield i


# ---------------------------------------------------------------------------
# sessions

def test_consumer_calls_between_next_are_consumer_children():
    text, t = session(consumer)
    assert_golden("session_generator_consumer", text)
    events = list(t)
    assert [(e.kind, e.func_name, e.parent_id, e.end, e.result_repr) for e in events] == [
        ("call", "consumer", None, "return", "[0, 1]"),
        ("call", "gen", 0, "yield", "0"),
        ("call", "helper", 0, "return", "0"),
        ("resume", "gen", 0, "yield", "1"),
        ("call", "helper", 0, "return", "1"),
        ("resume", "gen", 0, "return", "None"),
    ]
    # the generator's nodes have no children: helper() belongs to the consumer
    for e in events:
        if e.func_name == "gen":
            assert children(t, e.id) == []


def test_generator_own_calls_are_generator_children():
    text, t = session(consume_inner)
    assert text == ("→ consume_inner()\n"
                    "  → inner_gen()\n"
                    "    → helper()  → 1\n"
                    "  ← inner_gen()  ⏸ 1\n"
                    "  ▶ inner_gen()  → None\n"
                    "← consume_inner()  → [1]\n")
    assert t[2].parent_id == 1


def test_generator_send_values():
    text, t = session(drive_echo)
    assert text == ("→ drive_echo()\n"
                    "  → echo()  ⏸ 1\n"
                    "  ▶ echo()  ⏸ 11\n"
                    "  ▶ echo()  → 20\n"
                    "← drive_echo()  → (1, 11, 20)\n")


def test_generator_close_shows_throw():
    text, t = session(close_early)
    assert text == ("→ close_early()\n"
                    "  → closable()  ⏸ 1\n"
                    "  ▶ closable()  ⏹ closed\n"
                    "← close_early()  → 'closed'\n")
    assert t[2].kind == "throw"
    assert t[2].end == "closed"
    assert t[2].origin_id == t[1].id == 1
    assert not t[1].left_suspended


def test_generator_results_unchanged_by_session():
    expected = consumer(), drive_echo(), consume_inner()
    start_tracing()
    try:
        got = consumer(), drive_echo(), consume_inner()
    finally:
        stop_tracing()
    assert got == expected == ([0, 1], (1, 11, 20), [1])


def test_async_session_tree():
    start_tracing()
    try:
        assert asyncio.run(amain()) == 6
    finally:
        t = stop_tracing()
    assert_golden("session_async", tasks_numbered(tree_text(t)))


def test_async_generator_in_session_shows_yielded_values():
    start_tracing()
    try:
        assert asyncio.run(aconsume()) == [0, 1]
    finally:
        t = stop_tracing()
    assert tasks_numbered(tree_text(t)) == ("◆ task Task-N\n"
                                            "  → aconsume()\n"
                                            "    → agen()  ⏸ 0\n"
                                            "    ▶ agen()  ⏸ 1\n"
                                            "    ▶ agen()  → None\n"
                                            "  ← aconsume()  → [0, 1]\n")


# ---------------------------------------------------------------------------
# @trace on generator functions

def test_traced_generator_prints_when_exhausted(capsys):
    g = countdown(3)
    assert capsys.readouterr().out == ""  # nothing yet
    assert next(g) == 3
    assert capsys.readouterr().out == ""
    assert list(g) == [2, 1]
    assert_golden("decorator_generator", capsys.readouterr().out)


def test_traced_generator_in_subprocess():
    p = run_py("""
        from flowtrace import trace

        @trace
        def countdown(n):
            while n > 0:
                yield n
                n -= 1

        g = countdown(3)
        print("after call")
        print(list(g))
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "after call\n" + read_golden("decorator_generator") + "[3, 2, 1]\n"


def test_traced_generator_is_a_generator(capsys):
    g = countdown(1)
    assert inspect.isgenerator(g) or hasattr(g, "send")
    assert iter(g) is g
    assert list(g) == [1]
    capsys.readouterr()


def test_traced_generator_send_and_return_value(capsys):
    def driver():
        return (yield from tgen_return(3))

    d = driver()
    assert next(d) == 0
    assert d.send(5) == 1
    assert d.send(6) == 2
    with pytest.raises(StopIteration) as info:
        d.send(7)
    assert info.value.value == 18
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "→ tgen_return(3) ⏸ 0"
    # the driver (user code) is resumed during the recording too: its
    # resumptions hold those of tgen_return
    assert "  ▶ tgen_return()  → 18" in out.splitlines()


def test_traced_generator_dropped_unfinished_still_prints():
    p = run_py("""
        import gc
        from flowtrace import trace

        @trace
        def countdown(n):
            while n > 0:
                yield n
                n -= 1

        g = countdown(3)
        print(next(g))
        del g
        gc.collect()
        print("dropped")
    """)
    assert p.returncode == 0, p.stderr
    # closing a dropped generator emits no events on 3.12/3.13.0 when the
    # yield is outside try (gh-140373): it shows as left suspended
    assert p.stdout == "3\n→ countdown(3) ⏸ 3 (left suspended)\ndropped\n"


def test_traced_generator_inside_session_prints_nothing(capsys):
    def use():
        return sum(countdown(2))

    text, t = session(use)
    assert capsys.readouterr().out == ""
    assert text == ("→ test_traced_generator_inside_session_prints_nothing.<locals>.use()\n"
                    "  → countdown(2) ⏸ 2\n"
                    "  ▶ countdown()  ⏸ 1\n"
                    "  ▶ countdown()  → None\n"
                    "← test_traced_generator_inside_session_prints_nothing.<locals>.use()  → 3\n")


# ---------------------------------------------------------------------------
# @trace on async functions

def test_traced_coroutine_function_is_coroutine_function():
    assert inspect.iscoroutinefunction(add)


def test_traced_coroutine_prints_when_complete(capsys):
    coro = add(2, 3)
    assert capsys.readouterr().out == ""  # created, not run
    assert asyncio.run(coro) == 5
    assert_golden("decorator_async", tasks_numbered(capsys.readouterr().out))


def test_traced_coroutine_in_subprocess():
    p = run_py("""
        import asyncio
        from flowtrace import trace

        @trace
        async def add(a, b):
            await asyncio.sleep(0)
            return a + b

        c = add(2, 3)
        print("created")
        print(asyncio.run(c))
    """)
    assert p.returncode == 0, p.stderr
    assert tasks_numbered(p.stdout) == "created\n" + read_golden("decorator_async") + "5\n"


def test_traced_coroutine_awaited_by_gather(capsys):
    async def main():
        return await asyncio.gather(add(1, 2), add(3, 4))

    assert asyncio.run(main()) == [3, 7]
    capsys.readouterr()


def test_traced_async_generator(capsys):
    async def main():
        return [x async for x in tagen(2)]

    assert asyncio.run(main()) == [0, 1]
    # main() was already running when the @trace session started: the async
    # generator's first entry opens the task's lane
    assert tasks_numbered(capsys.readouterr().out) == ("◆ task Task-N\n"
                                                       "  → tagen(2) ⏸ 0\n"
                                                       "  ▶ tagen()  ⏸ 1\n"
                                                       "  ▶ tagen()  → None\n")


# ---------------------------------------------------------------------------
# asyncio: each task its own lane, with the task that created it

async def p_leaf(x):
    await asyncio.sleep(0)
    return x * 2


async def p_middle(x):
    return await p_leaf(x) + 1


def p_sync(n):
    return n + 1


async def p_main():
    a = await asyncio.gather(p_middle(1), p_middle(2))
    r = await asyncio.create_task(p_leaf(5), name="worker")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(p_leaf(7), name="grouped")
    try:
        await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)
    except TimeoutError:
        pass
    s = await asyncio.to_thread(p_sync, 3)
    return a, r, s


def test_asyncio_tasks_are_lanes():
    start_tracing()
    try:
        assert asyncio.run(p_main()) == ([3, 5], 10, 4)
    finally:
        t = stop_tracing()
    text = tasks_numbered(tree_text(t))
    # the to_thread worker's name is the executor's: normalise it
    text = re.sub(r"── thread asyncio_\d+ ──", "── thread asyncio_N ──", text)
    assert_golden("session_asyncio_patterns", text)
    lanes = [e for e in t if e.kind == "task"]
    assert [e.func_name for e in lanes] == ["p_main", "p_middle", "p_middle", "p_leaf", "p_leaf"]
    names = [tasks_numbered(e.args_repr) for e in lanes]
    assert names == ["Task-N", "Task-N", "Task-N", "worker", "grouped"]
    assert all(tasks_numbered(e.result_repr) == "Task-N" for e in lanes[1:])
    assert lanes[0].result_repr is None  # the main task: created by asyncio.run


class LoudTask(asyncio.Task):
    """A Task subclass whose get_name is user code: FlowTrace must not run it."""

    calls = 0

    def get_name(self):
        LoudTask.calls += 1
        return "overridden"


async def loud_child():
    await asyncio.sleep(0)
    return 1


async def loud_main():
    loop = asyncio.get_running_loop()
    loop.set_task_factory(lambda lp, coro, **kw: LoudTask(coro, loop=lp, **kw))
    t = asyncio.create_task(loud_child(), name="subclassed")
    return await t


def test_task_subclass_named_without_running_its_override():
    start_tracing()
    try:
        assert asyncio.run(loud_main()) == 1
    finally:
        t = stop_tracing()
    assert LoudTask.calls == 0
    lanes = [e for e in t if e.kind == "task"]
    assert [e.func_name for e in lanes] == ["loud_main", "loud_child"]
    assert tasks_numbered(lanes[1].args_repr) == "subclassed"
    assert tasks_numbered(lanes[1].result_repr) == "Task-N"


def count_up(n):
    yield from range(n)


def plain_gen_loop():
    total = 0
    for _ in range(50):
        total += sum(x for x in count_up(3))
    return total


async def tiny_task():
    await asyncio.sleep(0)
    return 1


def test_generators_after_the_loop_finished_pay_no_task_bookkeeping():
    # once asyncio.run() is over, plain generators are outside any task:
    # nothing more is recorded for them than without asyncio
    def records(fn):
        start_tracing()
        try:
            fn()
        finally:
            t = stop_tracing()
        return t._c().nrecords

    loop_only = records(lambda: asyncio.run(tiny_task()))
    gens_only = records(plain_gen_loop)
    both = records(lambda: (asyncio.run(tiny_task()), plain_gen_loop()))
    # the first generator after the loop says "no task" once (two words)
    assert loop_only + gens_only <= both <= loop_only + gens_only + 2
