"""FlowTrace never shows a value that was not there (issue 9, item 1).

Exceptions used to be identified by their address: the text formatted for
one exception was reused for a later exception allocated where the first
had been freed, and a new raise was taken for the propagation of an earlier
exception that a C function had swallowed. These programs free and
reallocate exceptions in loops, so that the allocator hands the same
address back.
"""
import gc
import weakref

from conftest import session


def raises(i):
    raise ValueError(f"bad {i}")


def catches_in_loop():
    for i in range(4):
        try:
            raises(i)
        except ValueError:
            pass


def test_exceptions_raised_in_a_loop_each_show_their_own_text():
    text, _ = session(catches_in_loop)
    assert text == ("→ catches_in_loop()\n"
                    + "".join(f"  ↯ raises()  ValueError: bad {i}\n"
                              f"  ✓ caught ValueError: bad {i}\n" for i in range(4))
                    + "← catches_in_loop()  → None\n")


def raises_inline():
    for i in range(3):
        try:
            raise KeyError(i)
        except KeyError:
            pass


def test_inline_raises_in_one_frame_each_show_their_own_text():
    # nothing is recorded between one raise and the next
    text, _ = session(raises_inline)
    assert text == ("→ raises_inline()\n"
                    + "".join(f"  ⚡ raise KeyError: {i}\n"
                              f"  ✓ caught KeyError: {i}\n" for i in range(3))
                    + "← raises_inline()  → None\n")


class Lazy:
    @property
    def missing(self):
        raise AttributeError("from the property")


def probes_then_raises(n):
    # hasattr() (C) swallows the property's AttributeError; the new
    # exception raised right after is a raise of this frame, not the
    # propagation of the swallowed one.
    for i in range(n):
        hasattr(Lazy(), "missing")
        try:
            raise AttributeError(f"mine {i}")
        except AttributeError:
            pass


def test_a_new_raise_after_a_swallowed_exception_is_not_propagation():
    text, _ = session(probes_then_raises, 3)
    lines = text.splitlines()
    assert lines[0] == "→ probes_then_raises()"
    body = lines[1:-1]
    expected = []
    for i in range(3):
        expected += ["  ↯ Lazy.missing()  AttributeError: from the property",
                     f"  ⚡ raise AttributeError: mine {i}",
                     f"  ✓ caught AttributeError: mine {i}"]
    assert body == expected


def edits_then_reraises():
    try:
        try:
            raises(1)
        except ValueError as e:
            e.args = ("edited",)
            raise
    except ValueError:
        return "done"


def test_an_exception_edited_by_its_handler_shows_its_new_text():
    text, _ = session(edits_then_reraises)
    assert text == ("→ edits_then_reraises()\n"
                    "  ↯ raises()  ValueError: bad 1\n"
                    "  ✓ caught ValueError: bad 1\n"
                    "  ⟳ re-raise ValueError: edited\n"
                    "  ✓ caught ValueError: edited\n"
                    "← edits_then_reraises()  → 'done'\n")


class Witness:
    pass


WITNESSES = []


def raise_with_local():
    w = Witness()
    WITNESSES.append(weakref.ref(w))
    raise ValueError("x")


class Probe:
    @property
    def attr(self):
        w = Witness()
        WITNESSES.append(weakref.ref(w))
        raise AttributeError("attr")


def lifetimes():
    """Whether each exception's frame locals are gone right after the
    exception is: FlowTrace must not keep them a moment longer."""
    seen = []
    try:
        raise_with_local()
    except ValueError:
        pass
    seen.append(WITNESSES[-1]() is None)
    hasattr(Probe(), "attr")  # swallowed in C
    seen.append(WITNESSES[-1]() is None)
    return seen


def test_flowtrace_keeps_no_exception_alive():
    gc.disable()  # only reference counting frees them, as untraced
    try:
        WITNESSES.clear()
        untraced = lifetimes()
        WITNESSES.clear()
        _, trace = session(lifetimes)
    finally:
        gc.enable()
    assert untraced == [True, True]
    assert trace[0].result_repr == "[True, True]"
