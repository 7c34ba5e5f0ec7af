"""shmbus.HeaderFilter: RabbitMQ's headers-exchange rules from Python (the C++ table of cases is
tests/routing; here: that the binding builds filters both ways and matches dicts)."""
import pytest

import shmbus


def test_all_is_the_default_and_every_argument_must_hold():
    f = shmbus.HeaderFilter("type=OrderPlaced@2,region")
    assert f.x_match == "all" and f.arguments == [("type", "OrderPlaced@2"), ("region", None)]
    assert f.matches({"type": "OrderPlaced@2", "region": "eu"})
    assert not f.matches({"type": "OrderPlaced@2"})


def test_any_with_a_dict_and_x_arguments_ignored_unless_with_x():
    f = shmbus.HeaderFilter({"x-match": "any", "type": "A", "x-tenant": "acme"})
    assert f.matches({"type": "A"}) and not f.matches({"x-tenant": "acme"})
    assert shmbus.HeaderFilter("x-match=any-with-x,x-tenant=acme").matches({"x-tenant": "acme"})


def test_empty_filters_and_round_trip_through_the_cli_form():
    assert shmbus.HeaderFilter().matches({})
    assert not shmbus.HeaderFilter("x-match=any").matches({"k": "v"})
    f = shmbus.HeaderFilter(r"note=a\,b")
    assert f.arguments == [("note", "a,b")] and shmbus.HeaderFilter(str(f)) == f


def test_a_bad_filter_says_what_to_fix():
    with pytest.raises(shmbus.InvalidArgumentError, match="x-match"):
        shmbus.HeaderFilter("x-match=some")
