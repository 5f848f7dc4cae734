from qconsole.inference.stop_strings import StopStringFilter


def feed_all(stops, pieces):
    f = StopStringFilter(stops)
    out = "".join(f.feed(p) for p in pieces) + f.flush()
    return out, f.stopped


def test_stop_split_across_pieces_is_removed():
    out, stopped = feed_all(["\nUser:"], [" 6.", "\nUs", "er:", " more"])
    assert out == " 6."
    assert stopped


def test_partial_prefix_released_when_it_turns_out_not_to_be_a_stop():
    out, stopped = feed_all(["\nUser:"], ["a\nU", "sual"])
    assert out == "a\nUsual"
    assert not stopped


def test_held_back_prefix_flushed_at_end_of_stream():
    out, stopped = feed_all(["\nUser:"], ["end\nUs"])
    assert out == "end\nUs"
    assert not stopped


def test_earliest_of_several_stops_wins():
    out, _ = feed_all(["\nUser:", "\nAssistant:"], ["x\nAssistant: y\nUser:"])
    assert out == "x"


def test_no_stops_passes_everything():
    out, stopped = feed_all([], ["a", "b"])
    assert (out, stopped) == ("ab", False)
