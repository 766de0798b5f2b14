"""Threads: every thread is recorded, each with its own tree."""
import threading

from conftest import assert_golden, children, run_py, session, tree_text

from flowtrace import start_tracing, stop_tracing, trace


def work(x):
    return x * 2


def run():
    return work(3)


def main_and_worker():
    work(1)
    th = threading.Thread(target=run, name="worker-1")
    th.start()
    th.join()


def loop(n):
    for i in range(n):
        work(i)
    return n


@trace
def traced_work(x):
    return work(x) + 1


def test_other_thread_recorded_under_header():
    text, t = session(main_and_worker)
    assert_golden("threads_two", text)
    names = [name for _, name in t.threads()]
    assert names == ["MainThread", "worker-1"]


def test_thread_fields_of_events():
    idents = {}

    def target():
        idents["worker"] = threading.get_ident()
        run()

    start_tracing()
    try:
        work(1)
        th = threading.Thread(target=target, name="named-worker")
        th.start()
        th.join()
    finally:
        t = stop_tracing()
    by_thread = {}
    for e in t:
        by_thread.setdefault(e.thread, []).append(e)
    assert set(by_thread) == {"MainThread", "named-worker"}
    assert all(e.thread_id == threading.get_ident() for e in by_thread["MainThread"])
    assert all(e.thread_id == idents["worker"] for e in by_thread["named-worker"])
    worker_events = by_thread["named-worker"]
    # parents never cross threads
    ids = {e.id for e in worker_events}
    for e in worker_events:
        assert e.parent_id is None or e.parent_id in ids
    assert [e.func_name.rsplit(".", 1)[-1] for e in worker_events] == ["target", "run", "work"]
    text = tree_text(t)
    assert "── thread MainThread ──\n" in text
    assert "── thread named-worker ──\n" in text


def test_single_thread_with_events_has_no_header():
    start_tracing()
    try:
        # called from here (a frame begun before the session): the main
        # thread records no event of its own
        th = threading.Thread(target=run, name="worker-2")
        th.start()
        th.join()
    finally:
        t = stop_tracing()
    text = tree_text(t)
    assert text == ("→ run()\n"
                    "  → work()  → 6\n"
                    "← run()  → 6\n")
    assert {e.thread for e in t} == {"worker-2"}


def test_default_thread_name_is_used():
    holder = {}

    def start():
        work(0)
        th = threading.Thread(target=run)
        holder["name"] = th.name
        th.start()
        th.join()

    text, _ = session(start)
    assert f"── thread {holder['name']} ──\n" in text


def test_ascii_thread_header():
    _, t = session(main_and_worker)
    text = tree_text(t, ascii=True)
    assert text.splitlines()[0] == "-- thread MainThread --"
    assert "-- thread worker-1 --" in text.splitlines()


def test_many_threads_all_calls_recorded():
    n_threads, n_calls = 4, 500
    barrier = threading.Barrier(n_threads)

    def target():
        barrier.wait()
        loop(n_calls)

    threads = [threading.Thread(target=target, name=f"w{i}") for i in range(n_threads)]
    start_tracing()
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        t = stop_tracing()
    per_thread = {}
    for e in t:
        per_thread.setdefault(e.thread, []).append(e)
    assert set(per_thread) == {f"w{i}" for i in range(n_threads)}
    for name, events in per_thread.items():
        loops = [e for e in events if e.func_name == "loop"]
        assert len(loops) == 1, name
        works = children(events, loops[0].id)
        assert len(works) == n_calls
        assert [w.result_repr for w in works] == [str(2 * i) for i in range(n_calls)]


def test_thread_started_before_session_is_recorded():
    go = threading.Event()
    done = threading.Event()

    def target():
        go.wait(60)
        work(21)
        done.set()

    th = threading.Thread(target=target, name="early")
    th.start()
    start_tracing()
    try:
        go.set()
        assert done.wait(60)
        th.join(60)
    finally:
        t = stop_tracing()
        th.join()
    # target() was running before the session: only its end was seen; it
    # adopts the call recorded inside it
    assert [(e.func_name.rsplit(".", 1)[-1], e.thread, e.result_repr, e.began_before,
             e.parent_id) for e in t] == [("target", "early", "None", True, None),
                                          ("work", "early", "42", False, 0)]


def test_trace_decorator_in_a_thread():
    p = run_py("""
        import threading
        from flowtrace import trace

        def work(x):
            return x * 2

        @trace
        def traced_work(x):
            return work(x) + 1

        th = threading.Thread(target=traced_work, args=(5,), name="w")
        th.start()
        th.join()
        print("joined")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("→ traced_work(5)\n"
                        "  → work()  → 10\n"
                        "← traced_work(5) → 11\n"
                        "joined\n")


def test_results_unchanged_in_threads():
    results = {}

    def target(i):
        results[i] = loop(i)

    def start():
        ths = [threading.Thread(target=target, args=(i,)) for i in range(5)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()

    session(start)
    assert results == {i: i for i in range(5)}


def test_thread_running_across_sessions():
    """A thread that keeps calling while sessions start and stop: each
    session sees its calls; nothing breaks in between."""
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            work(0)

    th = threading.Thread(target=spin, name="spinner")
    th.start()
    try:
        traces = []
        for _ in range(20):
            start_tracing()
            stop.wait(0.002)
            traces.append(stop_tracing())
    finally:
        stop.set()
        th.join()
    for t in traces:
        n = len(t)
        for i in list(range(min(n, 50))) + list(range(max(0, n - 50), n)):
            e = t[i]
            assert e.thread == "spinner"
            assert e.func_name == "work"
            assert e.parent_id is None
        tree_text(t)  # writes without error
    assert sum(len(t) for t in traces) > 0


def test_threads_lists_threads_that_produced_events():
    """Trace.threads(): "(ident, name) of each thread that produced events".
    The main thread here runs only library code (not recorded)."""
    go = threading.Event()

    def target():
        go.wait(60)
        work(1)

    th = threading.Thread(target=target, name="producer")
    th.start()
    # a session with another filter first: library code locations silenced
    # by earlier sessions are re-armed, whatever ran before this test
    session(work, 0, include_stdlib=True)
    start_tracing()
    try:
        go.set()  # threading code: not recorded, but runs on the main thread
        th.join()
    finally:
        t = stop_tracing()
    assert [(e.func_name.rsplit(".", 1)[-1], e.thread) for e in t] == [
        ("target", "producer"), ("work", "producer")]
    assert [name for _, name in t.threads()] == ["producer"]
    assert repr(t) == "<flowtrace.Trace 2 calls, 1 thread(s)>"
