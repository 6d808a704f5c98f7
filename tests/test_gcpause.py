"""The collector pause around a night or an import puts the collector back as it found it."""

from __future__ import annotations

import gc

import pytest

from ehcp_workflow.gcpause import collector_paused


@pytest.fixture(autouse=True)
def _restore() -> object:
    was = gc.isenabled()
    yield None
    gc.enable() if was else gc.disable()


def test_paused_inside_and_back_on_after_even_on_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("the night failed")
    assert gc.isenabled()


def test_nested_pauses_turn_it_on_once_at_the_outermost() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block found it off: it leaves it off
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()

    @collector_paused()
    def job() -> bool:
        return gc.isenabled()

    assert job() is False
    assert not gc.isenabled()
