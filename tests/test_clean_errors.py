"""Errors in the API's arguments are one clean exception on every Python.

`%T` in PyErr_Format exists only from CPython 3.13: on 3.12 these raised
SystemError("invalid format string") instead of the TypeError (issue 9,
item 13).
"""
import dataclasses
import io

import pytest

import flowtrace
from flowtrace import start_tracing, stop_tracing, trace


def test_trace_of_a_non_callable_is_a_type_error_naming_the_type():
    with pytest.raises(TypeError, match=r"^@trace needs a callable, not int$"):
        trace(5)


def test_a_pattern_that_is_not_a_string_is_a_type_error():
    with pytest.raises(TypeError, match=r"a pattern must be str, not int"):
        start_tracing(include=["ok", 5])


def fn():
    return 1


def test_an_event_with_a_field_of_the_wrong_type_is_a_type_error():
    with flowtrace.tracing() as t:
        fn()
    ev = t[0]
    bad = dataclasses.replace(ev, result_repr=3)
    with pytest.raises(TypeError, match=r"CallEvent.result_repr must be str or None, not int"):
        flowtrace.print_tree([bad], file=io.StringIO())
