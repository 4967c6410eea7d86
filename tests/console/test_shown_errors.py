"""components.shell.shown_errors: the pages' one way to turn a DriftGateError into one error line
(escaped, no traceback), then stop the page or go on."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    import streamlit as st

    from components.shell import shown_errors
    from services.errors import NotFound

    st.write("before")
    with shown_errors(stop=st.session_state.get("stop", False), note="Note: the log has rows from 11-01."):
        raise NotFound("no run *abc* here")
    st.write("after")


def _run(stop: bool) -> AppTest:
    at = AppTest.from_function(_page)
    at.session_state["stop"] = stop
    return at.run()


def test_error_line_then_the_page_goes_on():
    at = _run(stop=False)
    assert not at.exception
    assert [e.value for e in at.error] == [r"no run \*abc\* here"]  # markdown escaped
    assert [c.value for c in at.caption] == ["Note: the log has rows from 11-01."]
    assert [m.value for m in at.markdown] == ["before", "after"]


def test_stop_ends_the_page_after_the_error():
    at = _run(stop=True)
    assert not at.exception
    assert len(at.error) == 1
    assert [m.value for m in at.markdown] == ["before"]


def test_other_exceptions_are_not_swallowed():
    def page() -> None:
        from components.shell import shown_errors

        with shown_errors():
            raise ValueError("a bug")

    at = AppTest.from_function(page).run()
    assert at.exception and "a bug" in at.exception[0].value
