"""The build hook: generate before wheel, sdist and editable builds, and ship the modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ConfigGenBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Runs ``configgen generate`` for the project being built, as configured in
    ``[tool.configgen]``, and adds the generated modules to the build even when version
    control ignores them. A production build (``CONFIGGEN_PRODUCTION=1`` or
    ``test-helpers = false``) leaves ``configgen_testing.py`` out of the wheel.
    """

    PLUGIN_NAME = "configgen"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from configgen import DiagnosticError, SettingsError
        from configgen.build import build_step

        try:
            outputs = build_step(Path(self.root))
        except (DiagnosticError, SettingsError) as exc:
            for diagnostic in exc.diagnostics:
                self.app.display_error(str(diagnostic))
            message = f"configgen: the build of {self.metadata.name} stopped: invalid input (above)"
            raise SystemExit(message) from None
        for diagnostic in outputs.warnings:
            self.app.display_warning(str(diagnostic))
        root = Path(self.root)
        shipped = outputs.include + (outputs.inputs if self.target_name == "sdist" else [])
        for path in shipped:
            build_data["artifacts"].append("/" + path.relative_to(root).as_posix())
        if outputs.exclude:
            self._exclude([path.relative_to(root).as_posix() for path in outputs.exclude])
        for path in outputs.written:
            self.app.display_info(f"configgen: wrote {path.relative_to(root).as_posix()}")

    def _exclude(self, paths: list[str]) -> None:
        """Leave *paths* out of this build, whatever else selects them."""
        import pathspec

        extra = pathspec.GitIgnoreSpec.from_lines(f"/{path}" for path in paths)
        current = self.build_config.exclude_spec
        # hatchling caches the exclusion spec per target; extend it for this build only
        self.build_config.__dict__["exclude_spec"] = extra if current is None else current + extra
