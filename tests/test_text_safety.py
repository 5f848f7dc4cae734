from rich.text import Text

from qconsole.text_safety import visible_text


def test_escape_sequences_become_visible_not_interpreted():
    out = visible_text("red \x1b[31mtext\x1b[0m \x1b]0;title\x07")
    assert "\x1b" not in out and "\x07" not in out
    assert "␛[31m" in out


def test_newlines_and_tabs_kept_cr_dropped_c1_visible():
    assert visible_text("a\r\nb\tc") == "a\nb\tc"
    assert visible_text("x\x9by") == "x\\x9by"


def test_markup_stays_literal_in_rendered_text():
    t = Text(visible_text("[bold]not bold[/bold] [link=x]y[/link]"))
    assert t.plain == "[bold]not bold[/bold] [link=x]y[/link]"
    assert not t.spans
