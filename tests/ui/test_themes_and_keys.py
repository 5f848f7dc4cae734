"""Theme files and key overrides: a theme dropped into the config dir appears in the app, a
broken one is skipped with a warning, the choice is remembered, [keys] remaps an action."""

from qconsole.config import Config, load_config, load_state
from qconsole.paths import config_dir, workspace_dir
from qconsole.ui.app import QConsoleApp
from qconsole.ui.screens.settings import SettingsScreen
from qconsole.ui.themes import load_themes


def write_user_themes():
    d = config_dir() / "themes"
    d.mkdir(parents=True)
    (d / "solar.toml").write_text('name = "solar"\ndark = false\nprimary = "#b58900"\n')
    (d / "broken.toml").write_text("this is not = toml = at all")


def test_bundled_and_user_themes_load_and_bad_ones_are_reported():
    write_user_themes()
    themes, warnings = load_themes()
    names = {t.name for t in themes}
    assert {"qconsole-dark", "qconsole-light", "qconsole-high-contrast", "solar"} <= names
    assert any("broken.toml" in w for w in warnings)


def test_builtin_themes_and_styles_are_package_data():
    """A wheel install has only what is inside the package: the three built-in themes and
    every stylesheet the apps load must live there (pyproject's package-data ships them)."""
    from pathlib import Path

    import qconsole
    from qconsole.ui.app import QConsoleApp
    from qconsole.ui.themes import builtin_themes

    package = Path(qconsole.__file__).parent
    names = {p.name for p in builtin_themes().iterdir() if p.name.endswith(".toml")}
    assert names == {"qconsole-dark.toml", "qconsole-light.toml", "qconsole-high-contrast.toml"}
    assert Path(str(builtin_themes())).is_relative_to(package)
    for css in QConsoleApp.CSS_PATH:
        assert Path(css).is_file() and Path(css).is_relative_to(package)


async def test_user_theme_is_selectable_and_remembered_and_keys_remap(scripted_loader):
    write_user_themes()
    (workspace_dir() / "qconsole.toml").write_text('[keys]\nsettings = "f9"\n')
    cfg = load_config()
    assert cfg.keys == {"settings": "f9"}
    app = QConsoleApp(cfg, sides_loader=scripted_loader(["hi"], None))
    async with app.run_test() as pilot:
        assert "solar" in app.available_themes
        app.theme = "solar"
        await pilot.pause(0.2)
        assert load_state()["theme"] == "solar"
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
    app2 = QConsoleApp(Config(), sides_loader=scripted_loader(["hi"], None))
    async with app2.run_test() as pilot:
        await pilot.pause()
        assert app2.theme == "solar"
